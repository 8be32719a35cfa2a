import random
import secrets
from random import randint


def new_plan(identifier):
    # ruleid: insecure-random-secret
    salt = randint(1, 99)
    # ruleid: insecure-random-secret
    token = "".join(random.choice("abcdef0123456789") for _ in range(32))
    # ok: insecure-random-secret
    nonce = secrets.token_hex(16)
    # ok: insecure-random-secret
    sample = random.choice([1, 2, 3])
    return identifier + str(salt), token, nonce, sample


class Session:
    def reset(self):
        # ruleid: insecure-random-secret
        self.session_id = str(random.getrandbits(64))
        # ok: insecure-random-secret
        self.retries = random.randint(1, 3)
