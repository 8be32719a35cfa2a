import os
import subprocess

from flask import request


def run_tool():
    tool = request.form["tool"]
    # ruleid: command-injection-program
    subprocess.run([tool, "--version"], check=True)
    # ruleid: command-injection-program
    os.execvp(tool, [tool])
    # ok: command-injection-program
    subprocess.run(["git", "log", "--", tool], check=True)


def local(program):
    # ok: command-injection-program
    subprocess.run([program, "--help"], check=True)
