import html

from flask import Flask, make_response, request
from markupsafe import Markup

app = Flask(__name__)


@app.route("/hello")
def hello():
    name = request.args.get("name", "")
    # ruleid: xss
    return "<h1>Hello " + name + "</h1>"


@app.route("/greet")
def greet():
    name = request.args.get("name", "")
    # ok: xss
    return "<h1>Hello " + html.escape(name) + "</h1>"


@app.route("/page")
def page():
    body = request.form["body"]
    # ruleid: xss
    response = make_response(f"<div>{body}</div>")
    # ruleid: xss
    fragment = Markup(body)
    return response, fragment


@app.route("/static")
def static_page():
    # ok: xss
    return "<h1>Hello</h1>"
