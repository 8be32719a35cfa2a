import sys
import urllib.request

import requests
from flask import request


def fetch():
    url = request.args.get("url")
    # ruleid: ssrf
    response = requests.get(url, timeout=10)
    # ruleid: ssrf
    page = urllib.request.urlopen(url)
    return response.text, page.read()


def proxy():
    host = request.headers.get("X-Host")
    # ruleid: ssrf
    return requests.post("http://" + host + "/api", json={}, timeout=10)


def fixed():
    # ok: ssrf
    return requests.get("https://api.example.com/status", timeout=10)


def argument(url):
    # ok: ssrf
    return requests.get(url, timeout=10)


def download():
    # A URL given on the command line is the local user's choice, not a forged request.
    # ok: ssrf
    return requests.get(sys.argv[1], timeout=10)
