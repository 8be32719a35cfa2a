import sqlite3
import sys

from flask import Flask, request

app = Flask(__name__)


@app.route("/user")
def user():
    name = request.args.get("name")
    db = sqlite3.connect("app.db")
    # ruleid: sql-injection
    rows = db.execute("SELECT * FROM users WHERE name = '%s'" % name).fetchall()
    # ok: sql-injection
    rows = db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchall()
    return str(rows)


def by_id(cursor):
    user_id = sys.argv[1]
    query = f"DELETE FROM users WHERE id = {user_id}"
    # ruleid: sql-injection
    cursor.execute(query)
    # ok: sql-injection
    cursor.execute(f"DELETE FROM users WHERE id = {int(user_id)}")


def from_prompt(cursor):
    table = input("table: ")
    # ruleid: sql-injection
    cursor.executescript("DROP TABLE " + table)


def constant(cursor, limit):
    # ok: sql-injection
    cursor.execute("SELECT * FROM users LIMIT 10")
    # ok: sql-injection
    cursor.execute("SELECT * FROM users LIMIT " + str(limit))
