import os
import sys

from flask import Flask, request, send_file
from werkzeug.utils import secure_filename

app = Flask(__name__)
BASE = "/srv/files"


@app.route("/download")
def download():
    name = request.args.get("name")
    # ruleid: path-traversal
    return send_file(os.path.join(BASE, name))


@app.route("/read")
def read():
    name = request.args["name"]
    # ruleid: path-traversal
    with open("/srv/files/" + name) as handle:
        data = handle.read()
    # ok: path-traversal
    with open(os.path.join(BASE, secure_filename(name))) as handle:
        data += handle.read()
    # ok: path-traversal
    with open(os.path.join(BASE, os.path.basename(name))) as handle:
        data += handle.read()
    return data


def remove(sock):
    target = sock.recv(256).decode()
    # ruleid: path-traversal
    os.remove(target)


def command_line():
    # The local user may name any file: a command-line path is not a traversal.
    # ok: path-traversal
    with open(sys.argv[1]) as handle:
        return handle.read()


def fixed(path):
    # ok: path-traversal
    with open(path) as handle:
        return handle.read()
