import os

from fastapi import FastAPI
from flask import Flask

app = Flask(__name__)
# ruleid: debug-mode
api = FastAPI(debug=True)
# ruleid: debug-mode
DEBUG = True


def settings():
    # ok: debug-mode
    DEBUG = True
    return DEBUG


if __name__ == "__main__":
    # ruleid: debug-mode
    app.run(host="127.0.0.1", debug=True)
    # ok: debug-mode
    app.run(host="127.0.0.1", debug=os.environ.get("FLASK_DEBUG") == "1")
