def create_user(cursor, username, password):
    # ruleid: sql-string-built
    cursor.execute("CREATE USER {name} WITH PASSWORD '{pw}'".format(name=username, pw=password))
    # ok: sql-string-built
    cursor.execute("CREATE USER %s WITH PASSWORD %s", (username, password))


def drop(cursor, table):
    # ruleid: sql-string-built
    cursor.execute('DROP TABLE "%s"' % table)
    query = f"SELECT * FROM {table} WHERE id = 1"
    # ruleid: sql-string-built
    cursor.execute(query)
    # ruleid: sql-string-built
    cursor.executemany("INSERT INTO " + table + " VALUES (?)", [(1,), (2,)])
    # ok: sql-string-built
    cursor.execute("SELECT name FROM sqlite_master WHERE type = ?", ("table",))


def not_sql(runner, name):
    # ok: sql-string-built
    runner.run("hello %s" % name)
