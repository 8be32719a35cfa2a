import ldap
from flask import request
from ldap.filter import escape_filter_chars


def find_user():
    name = request.args.get("name")
    conn = ldap.initialize("ldap://localhost")
    # ruleid: ldap-injection
    conn.search_s("dc=example,dc=com", ldap.SCOPE_SUBTREE, "(uid=" + name + ")")
    # ok: ldap-injection
    conn.search_s("dc=example,dc=com", ldap.SCOPE_SUBTREE, "(uid=" + escape_filter_chars(name) + ")")


def ldap3_search(conn):
    user = input("user: ")
    # ruleid: ldap-injection
    conn.search("dc=example,dc=com", f"(cn={user})")


def fixed(conn):
    # ok: ldap-injection
    conn.search_s("dc=example,dc=com", ldap.SCOPE_SUBTREE, "(objectClass=person)")
