from Crypto.Cipher import AES, DES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def encrypt(key, iv, nonce, data):
    # ruleid: weak-cipher
    ecb = AES.new(key, AES.MODE_ECB)
    # ok: weak-cipher
    gcm = AES.new(key, AES.MODE_GCM, nonce=nonce)
    # ruleid: weak-cipher
    des = DES.new(key, DES.MODE_CBC, iv)
    # ruleid: weak-cipher
    cipher = Cipher(algorithms.AES(key), modes.ECB())
    # ok: weak-cipher
    good = Cipher(algorithms.AES(key), modes.GCM(iv))
    return ecb, gcm, des, cipher, good, data
