import ast

from flask import request


def calc():
    expression = request.args.get("expr")
    # ruleid: code-injection
    result = eval(expression)
    # ok: code-injection
    value = ast.literal_eval(expression)
    return str(result) + str(value)


def run_script():
    source = input("code: ")
    # ruleid: code-injection
    exec(source)


def plugin():
    name = input("plugin: ")
    # ruleid: code-injection
    module = __import__(name)
    return module


def constant():
    # ok: code-injection
    return eval("1 + 2")
