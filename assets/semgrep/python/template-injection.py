import jinja2
from flask import Flask, render_template, render_template_string, request

app = Flask(__name__)


@app.route("/preview")
def preview():
    text = request.args.get("text")
    # ruleid: template-injection
    return render_template_string("<p>" + text + "</p>")


@app.route("/mail")
def mail():
    body = request.form["body"]
    # ruleid: template-injection
    return jinja2.Template(body).render()


@app.route("/safe")
def safe():
    text = request.args.get("text")
    # ok: template-injection
    return render_template_string("<p>{{ text }}</p>", text=text)


@app.route("/page")
def page():
    # ok: template-injection
    return render_template("page.html", text=request.args.get("text"))
