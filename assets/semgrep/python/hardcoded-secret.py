import os

import quandl

# ruleid: hardcoded-secret
quandl.ApiConfig.api_key = "taJyZN8QXqj2Dj8SNr6Z"
# ok: hardcoded-secret
quandl.ApiConfig.api_version = "2015-04-09"
# ruleid: hardcoded-secret
API_SECRET = "93f0c80150239e02c52011c858b20ce6"
# ok: hardcoded-secret
API_KEY = os.environ["API_KEY"]
# ok: hardcoded-secret
PASSWORD = "changeme"


def client(factory):
    # ruleid: hardcoded-secret
    return factory(user="admin", password="S3cr3tPassw0rd")


def settings():
    # ruleid: hardcoded-secret
    return {"api_key": "AKIAIOSFODNN7EXAMPLE", "region": "eu-west-1"}


def token_name():
    # ok: hardcoded-secret
    token = "Bearer"
    return token


def pem():
    # ruleid: hardcoded-secret
    key = "-----BEGIN RSA PRIVATE KEY-----\nMIICXgIBAAKBgQDivbhR7P516x\n-----END RSA PRIVATE KEY-----"
    return key
