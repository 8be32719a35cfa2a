import re

from flask import request


def search(lines):
    pattern = request.args.get("q")
    # ruleid: regex-injection
    matcher = re.compile(pattern)
    # ok: regex-injection
    literal = re.compile(re.escape(pattern))
    return [line for line in lines if matcher.search(line) or literal.search(line)]


def grep(text):
    word = request.form["word"]
    # ruleid: regex-injection
    return re.findall(word + "+", text)


def local_grep(text):
    # A command-line pattern is the local user's own regex, as in grep.
    # ok: regex-injection
    return re.findall(input("pattern: "), text)


def constant(text):
    # ok: regex-injection
    return re.findall(r"\d+", text)
