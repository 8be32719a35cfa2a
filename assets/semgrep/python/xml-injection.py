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


def from_socket(sock):
    text = sock.recv(65536)
    # ruleid: xml-injection
    return etree.XML(text)


def local_file(path):
    with open(path) as handle:
        text = handle.read()
    # ok: xml-injection
    return etree.XML(text)


def constant():
    # ok: xml-injection
    return etree.fromstring("<a/>")
