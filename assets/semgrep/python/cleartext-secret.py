import hashlib
import logging
import os


def register(username, password):
    # ruleid: cleartext-secret
    print("new user", username, password)
    # ruleid: cleartext-secret
    logging.info("password for %s is %s", username, password)
    with open("users.txt", "a") as handle:
        # ruleid: cleartext-secret
        handle.write(username + ":" + password + "\n")
        # ok: cleartext-secret
        handle.write(username + ":" + hashlib.sha256(password.encode()).hexdigest() + "\n")
    # ok: cleartext-secret
    print("new user", username)


def show_key():
    api_key = os.environ["API_KEY"]
    # ruleid: cleartext-secret
    print(f"using key {api_key}")
    # ok: cleartext-secret
    print("key set:", bool(api_key))
