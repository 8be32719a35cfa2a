"""The progress reporter: plain lines with an ETA off a terminal, a live bar on one."""

import io

from rich.console import Console

from patchloop.progress import Job, TaskProgress, clock


def test_clock_reads_like_a_stopwatch():
    assert [clock(s) for s in (0, 62, 788, 7500, -3)] == ["0:00", "1:02", "13:08", "2:05:00", "0:00"]


def test_the_eta_is_the_mean_time_per_finished_task_times_the_tasks_left():
    job = Job("eval", total=10, done=2, started=100.0)  # two done by an earlier process: no speed info
    assert job.eta(110.0) is None
    job.done, job.finished_here = 4, 2
    assert job.eta(110.0) == 30.0  # 5 s a task, 6 left


def test_plain_lines_off_a_terminal_and_none_on_it_or_when_quiet():
    def lines(**kw):
        out = io.StringIO()
        with TaskProgress(Console(file=out, width=200), **kw) as progress:
            bar = progress.add("eval 1 mbpp", total=2)
            progress.note(bar, "repair v1")
            progress.advance(bar, "MBPP/11 clean")
            progress.advance(bar, "MBPP/12 t_max")
        return out.getvalue().splitlines()

    plain = lines(live=False)
    assert len(plain) == 2 and plain[0].startswith(
        "eval 1 mbpp: 1/2 tasks (50%)  MBPP/11 clean  elapsed 0:00"
    )
    assert plain[1].startswith("eval 1 mbpp: 2/2 tasks (100%)  MBPP/12 t_max") and plain[1].endswith(
        "ETA 0:00"
    )
    assert lines(live=False, quiet=True) == []
    assert not any("tasks (" in line for line in lines(live=True))  # the bar, not lines
