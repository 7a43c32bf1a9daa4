-- sqlite.sql: an allocation-heavy sqlite3 run for bench/malloc/run.sh, in
-- :memory: (run as `sqlite3 :memory: < sqlite.sql`).  A bulk insert of
-- generated rows in one transaction, two indexes, an update, joins,
-- grouping, sorting and string building; the output is deterministic (no
-- random(): every value is computed from the row number).
PRAGMA cache_size = -65536;
CREATE TABLE t(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, v REAL, payload TEXT);
BEGIN;
WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 120000)
INSERT INTO t(id, grp, name, v, payload)
SELECT x, (x * 2654435761) % 997, 'name-' || ((x * 40503) % 100003),
       ((x * 69069) % 1000003) / 1000.0,
       substr(hex(x * 1103515245), 1, 4 + (x % 60)) || printf('%.*c', x % 200, '-')
FROM n;
COMMIT;
CREATE INDEX t_grp ON t(grp, v);
CREATE INDEX t_name ON t(name);
UPDATE t SET payload = payload || name WHERE id % 7 = 0;
CREATE TABLE g AS SELECT grp, count(*) AS c, sum(v) AS s FROM t GROUP BY grp;
SELECT count(*), sum(length(payload)), round(sum(v), 3) FROM t;
SELECT grp, c, round(s, 3) FROM g ORDER BY s DESC LIMIT 5;
SELECT name, count(*) FROM t GROUP BY name ORDER BY count(*) DESC, name LIMIT 5;
SELECT count(*) FROM t a JOIN g ON a.grp = g.grp WHERE a.v > g.s / g.c;
SELECT count(*), max(length(p)) FROM (SELECT group_concat(name, ',') AS p FROM t GROUP BY grp);
SELECT id, substr(payload, 1, 20) FROM t ORDER BY payload DESC, id LIMIT 3;
DELETE FROM t WHERE grp % 3 = 0;
SELECT count(*), round(avg(v), 3) FROM t WHERE name LIKE 'name-1%';
