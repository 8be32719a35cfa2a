import os
import stat


def publish(path):
    # ruleid: insecure-permissions
    os.chmod(path, 0o777)
    # ruleid: insecure-permissions
    os.chmod(path, stat.S_IRWXU | stat.S_IRWXO)
    # ruleid: insecure-permissions
    os.makedirs(path, mode=0o777, exist_ok=True)
    # ok: insecure-permissions
    os.chmod(path, 0o600)
    # ok: insecure-permissions
    os.makedirs(path, mode=0o700, exist_ok=True)
    # ruleid: insecure-permissions
    os.umask(0)
