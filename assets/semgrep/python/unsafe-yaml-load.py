import yaml
from yaml import Loader, SafeLoader


def read(path):
    with open(path, "rb") as stream:
        # ruleid: unsafe-yaml-load
        config = yaml.load(stream, Loader=Loader)
    with open(path, "rb") as stream:
        # ruleid: unsafe-yaml-load
        legacy = yaml.load(stream)
    with open(path, "rb") as stream:
        # ok: unsafe-yaml-load
        safe = yaml.load(stream, Loader=SafeLoader)
    with open(path, "rb") as stream:
        # ok: unsafe-yaml-load
        simple = yaml.safe_load(stream)
    # ruleid: unsafe-yaml-load
    everything = yaml.unsafe_load("a: 1")
    return config, legacy, safe, simple, everything
