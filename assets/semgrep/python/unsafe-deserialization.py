import json
import pickle

import yaml
from flask import request


def load_session():
    blob = request.cookies.get("session")
    # ruleid: unsafe-deserialization
    state = pickle.loads(blob)
    # ok: unsafe-deserialization
    settings = json.loads(blob)
    return state, settings


def load_config():
    text = request.get_data()
    # ruleid: unsafe-deserialization
    config = yaml.load(text, Loader=yaml.Loader)
    # ok: unsafe-deserialization
    safe = yaml.safe_load(text)
    return config, safe


def from_socket(sock):
    payload = sock.recv(4096)
    # ruleid: unsafe-deserialization
    return pickle.loads(payload)
