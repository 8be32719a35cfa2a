import defusedxml.ElementTree
from flask import request
from lxml import etree


def upload():
    data = request.get_data()
    # ruleid: xml-injection
    root = etree.fromstring(data)
    # ok: xml-injection
    safe = defusedxml.ElementTree.fromstring(data)
    return root, safe


def from_file():
    with open(input("file: ")) as handle:
        text = handle.read()
    # ruleid: xml-injection
    return etree.XML(text)


def constant():
    # ok: xml-injection
    return etree.fromstring("<a/>")
