import os

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


def remove():
    target = input("file to delete: ")
    # ruleid: path-traversal
    os.remove(target)


def fixed(path):
    # ok: path-traversal
    with open(path) as handle:
        return handle.read()
