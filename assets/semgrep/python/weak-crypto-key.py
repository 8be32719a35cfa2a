from Crypto.PublicKey import RSA
from cryptography.hazmat.primitives.asymmetric import dsa, rsa


def keys():
    # ruleid: weak-crypto-key
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    # ok: weak-crypto-key
    strong = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    # ruleid: weak-crypto-key
    old = RSA.generate(512)
    # ruleid: weak-crypto-key
    small = dsa.generate_private_key(key_size=1024)
    # ok: weak-crypto-key
    fine = RSA.generate(2048)
    return weak, strong, old, small, fine
