import ssl

import requests


def fetch(url):
    # ruleid: tls-verification-disabled
    insecure = requests.get(url, verify=False, timeout=10)
    # ok: tls-verification-disabled
    checked = requests.get(url, timeout=10)
    # ruleid: tls-verification-disabled
    context = ssl._create_unverified_context()
    return insecure, checked, context


def context():
    ctx = ssl.create_default_context()
    # ruleid: tls-verification-disabled
    ctx.check_hostname = False
    # ruleid: tls-verification-disabled
    ctx.verify_mode = ssl.CERT_NONE
    # ok: tls-verification-disabled
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx
