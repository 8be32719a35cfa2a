import os
import shlex
import subprocess
import sys

from flask import request


def ping():
    host = request.args.get("host")
    # ruleid: command-injection-shell
    os.system("ping -c 1 " + host)
    # ruleid: command-injection-shell
    subprocess.run(f"ping -c 1 {host}", shell=True, check=True)
    # ok: command-injection-shell
    subprocess.run(["ping", "-c", "1", host], check=True)
    # ok: command-injection-shell
    os.system("ping -c 1 " + shlex.quote(host))


def listing():
    folder = sys.argv[1]
    # ruleid: command-injection-shell
    out = subprocess.check_output("ls " + folder, shell=True)
    # ruleid: command-injection-shell
    os.popen("du -sh %s" % folder)
    # ok: command-injection-shell
    subprocess.check_output("ls /var/log", shell=True)
    return out


def fixed(name):
    # ok: command-injection-shell
    os.system("echo " + name)
