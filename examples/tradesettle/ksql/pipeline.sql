-- The trade settlement pipeline, for ksqlDB 0.29 (Confluent Platform 7.x,
-- Confluent Cloud). Run it in order from the ksqlDB CLI:
--
--   RUN SCRIPT 'ksql/pipeline.sql';
--
-- ksqlDB needs ksql.schema.registry.url (the registry the function uses).
-- The sources are what the Datagen source connector's STOCK_TRADES and USERS
-- quickstarts write as JSON: trades to the topic stocktrade, users (keyed by
-- user id) to users. The Lambda function reads user_trades and writes
-- trade-settlements; the last two statements read its output back.
--
-- Names shared with the function (checked by ksql_test.go):
--   user_trades value = tradepb.UserTrade: VALUE_SCHEMA_FULL_NAME is the
--     message's full name and the value columns, in order, are its fields 1-7;
--   user_trades key   = the user id as plain text (KEY_FORMAT 'KAFKA');
--   trade-settlements = tradepb.TradeSettlement, its columns inferred from
--     the registry and upper-cased by ksqlDB (USER, SYMBOL, AMOUNT,
--     DISPOSITION, REASON, TIMESTAMP);
--   the disposition strings of package settle.

SET 'auto.offset.reset' = 'earliest';

-- 1. Trades as they happen.
CREATE STREAM stocktrade (
  side VARCHAR,
  quantity INT,
  symbol VARCHAR,
  price INT,
  account VARCHAR,
  userid VARCHAR
) WITH (
  KAFKA_TOPIC = 'stocktrade',
  VALUE_FORMAT = 'JSON'
);

-- 2. The users, one row per user id (the record key).
CREATE TABLE users (
  userid VARCHAR PRIMARY KEY,
  registertime BIGINT,
  regionid VARCHAR,
  gender VARCHAR
) WITH (
  KAFKA_TOPIC = 'users',
  VALUE_FORMAT = 'JSON'
);

-- 3. Each trade with its user's region: the function's input.
--
-- The record key is the join column, the user id, as plain text; AS_VALUE
-- copies it into the value too. VALUE_SCHEMA_FULL_NAME names the Protobuf
-- message ksqlDB registers (package kafkalambda.tradesettle, message
-- UserTrade), which the function checks against its own; the value columns
-- become fields 1 to 7 in the order below. A trade whose user is not (yet)
-- in users still goes through (LEFT JOIN), with no region; a trade with no
-- user id at all is dropped by the join (ksqlDB ignores null join keys), so
-- the function's "NO USER" rule guards against other producers of the topic.
CREATE STREAM user_trades WITH (
  KAFKA_TOPIC = 'user_trades',
  KEY_FORMAT = 'KAFKA',
  VALUE_FORMAT = 'PROTOBUF',
  VALUE_SCHEMA_FULL_NAME = 'kafkalambda.tradesettle.UserTrade'
) AS SELECT
  t.userid AS user_key,
  AS_VALUE(t.userid) AS userid,
  u.regionid AS regionid,
  t.quantity AS quantity,
  t.symbol AS symbol,
  t.price AS price,
  t.account AS account,
  t.side AS side
FROM stocktrade t
LEFT JOIN users u ON t.userid = u.userid
EMIT CHANGES;

-- 4. The function's output. No columns are declared: ksqlDB infers them
-- from the schema the function registered under trade-settlements-value, so
-- run this once the function has written its first settlement. TIMESTAMP
-- makes the trade's time, not the time of writing, the time of each row.
CREATE STREAM trade_settlement WITH (
  KAFKA_TOPIC = 'trade-settlements',
  KEY_FORMAT = 'KAFKA',
  VALUE_FORMAT = 'PROTOBUF',
  TIMESTAMP = 'TIMESTAMP'
);

-- 5. Per symbol and minute, how many trades got each disposition. The
-- flagged count matches any disposition mentioning the SEC.
CREATE TABLE settlement_counts WITH (
  KAFKA_TOPIC = 'settlement-counts',
  VALUE_FORMAT = 'JSON'
) AS SELECT
  symbol,
  SUM(CASE WHEN disposition = 'Completed' THEN 1 ELSE 0 END) AS completed,
  SUM(CASE WHEN disposition = 'Pending' THEN 1 ELSE 0 END) AS pending,
  SUM(CASE WHEN disposition LIKE '%SEC%' THEN 1 ELSE 0 END) AS sec_flagged,
  SUM(CASE WHEN disposition = 'Rejected' THEN 1 ELSE 0 END) AS rejected,
  COUNT(*) AS total
FROM trade_settlement
WINDOW TUMBLING (SIZE 60 SECONDS)
GROUP BY symbol
EMIT CHANGES;

-- Then, for example:
--   SELECT symbol, WINDOWSTART, completed, pending, sec_flagged, rejected
--   FROM settlement_counts WHERE symbol = 'ZVV';
