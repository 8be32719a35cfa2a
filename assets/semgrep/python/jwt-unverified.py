import jwt


def claims(token, key):
    # ruleid: jwt-unverified
    unchecked = jwt.decode(token, options={"verify_signature": False})
    # ruleid: jwt-unverified
    anything = jwt.decode(token, key, algorithms=["none"])
    # ok: jwt-unverified
    checked = jwt.decode(token, key, algorithms=["HS256"])
    return unchecked, anything, checked


def legacy(token):
    # ruleid: jwt-unverified
    return jwt.decode(token, verify=False)
