from flask import request
from lxml import etree


def lookup():
    name = request.args.get("name")
    tree = etree.parse("users.xml")
    # ruleid: xpath-injection
    return tree.xpath("/users/user[@name='" + name + "']")


def lookup_var():
    name = request.args.get("name")
    tree = etree.parse("users.xml")
    # ok: xpath-injection
    return tree.xpath("/users/user[@name=$name]", name=name)


def finder(root):
    tag = input("tag: ")
    # ruleid: xpath-injection
    return root.findall(".//" + tag)


def constant(tree):
    # ok: xpath-injection
    return tree.xpath("/users/user")
