from flask import Flask, redirect, request, url_for

app = Flask(__name__)


@app.route("/login")
def login():
    target = request.args.get("next")
    # ruleid: open-redirect
    return redirect(target)


@app.route("/logout")
def logout():
    # ruleid: open-redirect
    return redirect(request.form["then"])


@app.route("/home")
def home():
    page = request.args.get("page")
    # ok: open-redirect
    return redirect(url_for("index", page=page))


def internal():
    # ok: open-redirect
    return redirect("/index")
