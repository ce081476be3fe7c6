import ChatStorage

/// One step of the schema, applied once, in order, inside a transaction.
public struct Migration: Sendable {
    public let version: Int
    public let name: String
    let sql: String
}

/// The schema's history. The database's `PRAGMA user_version` is the newest version applied.
///
/// Never edit a migration that has shipped: add a new one with the next number.
public enum Migrations {
    public static let all: [Migration] = [
        Migration(
            version: 1,
            name: "users, chats, messages, settings",
            sql: """
                CREATE TABLE users (
                    id TEXT PRIMARY KEY NOT NULL,
                    email TEXT NOT NULL COLLATE NOCASE UNIQUE,
                    password_hash TEXT NOT NULL,
                    role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
                    token_version INTEGER NOT NULL DEFAULT 0,
                    chat_count INTEGER NOT NULL DEFAULT 0,
                    created_at INTEGER NOT NULL
                ) STRICT;

                CREATE TABLE chats (
                    id TEXT PRIMARY KEY NOT NULL,
                    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                    title TEXT,
                    message_count INTEGER NOT NULL DEFAULT 0,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL
                ) STRICT;
                -- GET /chats: one user's chats, newest updated first, without a sort or a scan.
                CREATE INDEX chats_by_user_updated ON chats (user_id, updated_at DESC, id DESC);

                CREATE TABLE messages (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    chat_id TEXT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
                    role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
                    content TEXT NOT NULL,
                    created_at INTEGER NOT NULL
                ) STRICT;
                CREATE INDEX messages_by_chat ON messages (chat_id, id);

                -- Maintained counts, so neither GET /chats's total nor message_count counts rows.
                CREATE TRIGGER chats_count_insert AFTER INSERT ON chats BEGIN
                    UPDATE users SET chat_count = chat_count + 1 WHERE id = NEW.user_id;
                END;
                CREATE TRIGGER chats_count_delete AFTER DELETE ON chats BEGIN
                    UPDATE users SET chat_count = chat_count - 1 WHERE id = OLD.user_id;
                END;
                CREATE TRIGGER messages_count_insert AFTER INSERT ON messages BEGIN
                    UPDATE chats SET message_count = message_count + 1 WHERE id = NEW.chat_id;
                END;
                CREATE TRIGGER messages_count_delete AFTER DELETE ON messages BEGIN
                    UPDATE chats SET message_count = message_count - 1 WHERE id = OLD.chat_id;
                END;

                CREATE TABLE settings (
                    key TEXT PRIMARY KEY NOT NULL,
                    value TEXT NOT NULL
                ) STRICT;
                """
        ),
        Migration(
            version: 2,
            name: "message status, model and token counts for AI turns",
            sql: """
                ALTER TABLE messages ADD COLUMN status TEXT NOT NULL DEFAULT 'complete'
                    CHECK (status IN ('streaming', 'complete', 'failed', 'cancelled'));
                ALTER TABLE messages ADD COLUMN error TEXT;
                ALTER TABLE messages ADD COLUMN model TEXT;
                ALTER TABLE messages ADD COLUMN prompt_tokens INTEGER;
                ALTER TABLE messages ADD COLUMN completion_tokens INTEGER;
                -- Finding turns a crash left behind must not scan every message.
                CREATE INDEX messages_streaming ON messages (status) WHERE status = 'streaming';
                """
        ),
        Migration(
            version: 3,
            name: "users can be disabled by an admin",
            sql: """
                ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1));
                """
        ),
        Migration(
            version: 4,
            name: "a chat's messages_version, bumped by every write to its messages",
            sql: """
                -- Triggers, not the callers, bump it: no write path (nor a future one) can forget to, and an
                -- unchanged version proves a chat's messages are exactly as they were (the listing cache).
                ALTER TABLE chats ADD COLUMN messages_version INTEGER NOT NULL DEFAULT 0;
                DROP TRIGGER messages_count_insert;
                CREATE TRIGGER messages_count_insert AFTER INSERT ON messages BEGIN
                    UPDATE chats SET message_count = message_count + 1, messages_version = messages_version + 1
                    WHERE id = NEW.chat_id;
                END;
                DROP TRIGGER messages_count_delete;
                CREATE TRIGGER messages_count_delete AFTER DELETE ON messages BEGIN
                    UPDATE chats SET message_count = message_count - 1, messages_version = messages_version + 1
                    WHERE id = OLD.chat_id;
                END;
                CREATE TRIGGER messages_version_update AFTER UPDATE ON messages BEGIN
                    UPDATE chats SET messages_version = messages_version + 1 WHERE id IN (OLD.chat_id, NEW.chat_id);
                END;
                """
        ),
        Migration(
            version: 5,
            name: "replica leases and change notifications (PostgreSQL only: one process owns a SQLite file)",
            sql: ""
        ),
        Migration(
            version: 6,
            name: "the deployment's log of upstream calls (PostgreSQL only: one process owns a SQLite file)",
            sql: ""
        ),
        Migration(
            version: 7,
            name: "the deployment's rate-limit events (PostgreSQL only: one process owns a SQLite file)",
            sql: ""
        ),
        Migration(
            version: 8,
            name: "a turn begins in one round trip (PostgreSQL only: SQLite has no round trips)",
            sql: ""
        ),
        Migration(
            version: 9,
            name: "message changes notified after commit (PostgreSQL only: SQLite has no other replicas)",
            sql: ""
        ),
        Migration(
            version: 10,
            name: "token usage per user per day, token quotas, and a running reply's reservation",
            sql: """
                -- NULL: the deployment's default (DAILY_TOKEN_QUOTA, MONTHLY_TOKEN_QUOTA); 0: unlimited.
                ALTER TABLE users ADD COLUMN daily_token_quota INTEGER CHECK (daily_token_quota >= 0);
                ALTER TABLE users ADD COLUMN monthly_token_quota INTEGER CHECK (monthly_token_quota >= 0);
                -- The tokens a `streaming` reply holds against its user's quotas, and their sum per user, kept
                -- by triggers as replies start and end (deleteChat releases a deleted chat's running reply):
                -- a quota check reads one row, however many replies run.
                ALTER TABLE messages ADD COLUMN reserved_tokens INTEGER;
                ALTER TABLE users ADD COLUMN reserved_tokens INTEGER NOT NULL DEFAULT 0;
                CREATE TRIGGER messages_reserve AFTER INSERT ON messages
                WHEN NEW.status = 'streaming' AND NEW.reserved_tokens IS NOT NULL BEGIN
                    UPDATE users SET reserved_tokens = reserved_tokens + NEW.reserved_tokens
                    WHERE id = (SELECT user_id FROM chats WHERE id = NEW.chat_id);
                END;
                CREATE TRIGGER messages_release AFTER UPDATE OF status ON messages
                WHEN OLD.status = 'streaming' AND NEW.status <> 'streaming' AND OLD.reserved_tokens IS NOT NULL BEGIN
                    UPDATE users SET reserved_tokens = reserved_tokens - OLD.reserved_tokens
                    WHERE id = (SELECT user_id FROM chats WHERE id = OLD.chat_id);
                END;
                -- `day`: days since 1970-01-01, UTC.
                CREATE TABLE usage_daily (
                    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                    day INTEGER NOT NULL,
                    requests INTEGER NOT NULL DEFAULT 0,
                    prompt_tokens INTEGER NOT NULL DEFAULT 0,
                    completion_tokens INTEGER NOT NULL DEFAULT 0,
                    estimated_requests INTEGER NOT NULL DEFAULT 0,
                    PRIMARY KEY (user_id, day)
                ) STRICT, WITHOUT ROWID;
                -- GET /admin/usage: every user's rows over a range of days.
                CREATE INDEX usage_daily_by_day ON usage_daily (day, user_id);
                """
        ),
        Migration(
            version: 11,
            name: "a chat's model, system prompt, pin and archive",
            sql: """
                -- NULL: the deployment's default (GROQ_MODEL, SYSTEM_PROMPT).
                ALTER TABLE chats ADD COLUMN model TEXT;
                ALTER TABLE chats ADD COLUMN system_prompt TEXT;
                ALTER TABLE chats ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1));
                ALTER TABLE chats ADD COLUMN archived INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1));
                -- GET /chats: pinned first, then newest updated, archived or not, still without a sort or a scan.
                DROP INDEX chats_by_user_updated;
                CREATE INDEX chats_by_user_listing ON chats (user_id, archived, pinned DESC, updated_at DESC, id DESC);
                -- Maintained like chat_count, so either listing's total reads one row.
                ALTER TABLE users ADD COLUMN archived_count INTEGER NOT NULL DEFAULT 0;
                CREATE TRIGGER chats_archived_insert AFTER INSERT ON chats WHEN NEW.archived = 1 BEGIN
                    UPDATE users SET archived_count = archived_count + 1 WHERE id = NEW.user_id;
                END;
                CREATE TRIGGER chats_archived_delete AFTER DELETE ON chats WHEN OLD.archived = 1 BEGIN
                    UPDATE users SET archived_count = archived_count - 1 WHERE id = OLD.user_id;
                END;
                CREATE TRIGGER chats_archived_update AFTER UPDATE OF archived ON chats
                WHEN OLD.archived <> NEW.archived BEGIN
                    UPDATE users SET archived_count = archived_count + NEW.archived - OLD.archived WHERE id = NEW.user_id;
                END;
                """
        ),
        Migration(
            version: 12,
            name: "full-text search over messages and chat titles",
            sql: """
                -- FTS5 indexes over the rows themselves (external content: the text is not stored twice), kept in
                -- step by triggers, so in the very transaction that writes the text. A reply is indexed once it
                -- leaves `streaming` (its text changes until then). Case is folded; accents are kept, as on
                -- PostgreSQL ('simple').
                CREATE VIRTUAL TABLE messages_fts USING fts5(
                    content, content = 'messages', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 0'
                );
                INSERT INTO messages_fts (rowid, content) SELECT id, content FROM messages WHERE status <> 'streaming';
                CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN NEW.status <> 'streaming' BEGIN
                    INSERT INTO messages_fts (rowid, content) VALUES (NEW.id, NEW.content);
                END;
                CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN OLD.status <> 'streaming' BEGIN
                    INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', OLD.id, OLD.content);
                END;
                CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, status ON messages
                WHEN OLD.status <> 'streaming' OR NEW.status <> 'streaming' BEGIN
                    INSERT INTO messages_fts (messages_fts, rowid, content)
                    SELECT 'delete', OLD.id, OLD.content WHERE OLD.status <> 'streaming';
                    INSERT INTO messages_fts (rowid, content) SELECT NEW.id, NEW.content WHERE NEW.status <> 'streaming';
                END;
                -- Titles, by the chat's rowid (chats has no INTEGER PRIMARY KEY: after a VACUUM, which may renumber
                -- rowids, run INSERT INTO chats_fts (chats_fts) VALUES ('rebuild'), as the README says).
                CREATE VIRTUAL TABLE chats_fts USING fts5(
                    title, content = 'chats', content_rowid = 'rowid', tokenize = 'unicode61 remove_diacritics 0'
                );
                INSERT INTO chats_fts (rowid, title) SELECT rowid, title FROM chats WHERE title IS NOT NULL;
                CREATE TRIGGER chats_fts_insert AFTER INSERT ON chats WHEN NEW.title IS NOT NULL BEGIN
                    INSERT INTO chats_fts (rowid, title) VALUES (NEW.rowid, NEW.title);
                END;
                CREATE TRIGGER chats_fts_delete AFTER DELETE ON chats WHEN OLD.title IS NOT NULL BEGIN
                    INSERT INTO chats_fts (chats_fts, rowid, title) VALUES ('delete', OLD.rowid, OLD.title);
                END;
                CREATE TRIGGER chats_fts_update AFTER UPDATE OF title ON chats
                WHEN OLD.title IS NOT NEW.title BEGIN
                    INSERT INTO chats_fts (chats_fts, rowid, title)
                    SELECT 'delete', OLD.rowid, OLD.title WHERE OLD.title IS NOT NULL;
                    INSERT INTO chats_fts (rowid, title) SELECT NEW.rowid, NEW.title WHERE NEW.title IS NOT NULL;
                END;
                """
        ),
        Migration(
            version: 13,
            name: "branches: each message's parent, and the chat's active path",
            sql: """
                -- A chat's messages form a tree (regenerated replies and edited messages are siblings); the active
                -- path is the branch the chat reads as. Until now every chat was one line: each message follows
                -- the one before it, and every message is on the path.
                ALTER TABLE messages ADD COLUMN parent_id INTEGER;
                ALTER TABLE messages ADD COLUMN on_path INTEGER NOT NULL DEFAULT 1;
                UPDATE messages SET parent_id = (
                    SELECT max(p.id) FROM messages p WHERE p.chat_id = messages.chat_id AND p.id < messages.id
                );
                """
        ),
        Migration(
            version: 14,
            name: "a chat's updated_at is never older than its newest message; a turn updates its chat's row once",
            sql: """
                -- The second half concerns PostgreSQL only (SQLite has no row locks). The first is where
                -- PostgreSQL's count trigger now keeps updated_at, so both engines agree on an imported or
                -- copied chat whose updated_at is older than its newest message.
                DROP TRIGGER messages_count_insert;
                CREATE TRIGGER messages_count_insert AFTER INSERT ON messages BEGIN
                    UPDATE chats SET message_count = message_count + 1, messages_version = messages_version + 1,
                        updated_at = max(updated_at, NEW.created_at)
                    WHERE id = NEW.chat_id;
                END;
                """
        ),
        Migration(
            version: 15,
            name: "one user's concurrent writes do not queue on one row: usage in slots, chats counted before insert",
            sql: """
                -- PostgreSQL only: SQLite has one writer at a time, so its writes never queue on a row's lock.
                -- The version keeps both engines' numbers equal.
                """
        ),
        Migration(
            version: 16,
            name: "streaming replies indexed by chat",
            sql: """
                -- A turn's start asks whether its chat has a reply streaming: by chat, that reads the chat's
                -- own entries instead of every streaming reply's.
                DROP INDEX messages_streaming;
                CREATE INDEX messages_streaming ON messages (chat_id) WHERE status = 'streaming';
                """
        ),
        Migration(
            version: 17,
            name:
                "a new message's turn reads its context and begins in one statement (PostgreSQL only: SQLite has no round trips)",
            sql: """
                -- The version keeps both engines' numbers equal.
                """
        ),
        Migration(
            version: 18,
            name:
                "a turn's start returns its new messages from the INSERT (PostgreSQL only: SQLite's INSERT already returns them)",
            sql: """
                -- The version keeps both engines' numbers equal.
                """
        ),
        Migration(
            version: 19,
            name:
                "a page of chats is read with one plan per connection (PostgreSQL only: SQLite plans a statement once)",
            sql: """
                -- The version keeps both engines' numbers equal.
                """
        ),
        Migration(
            version: 20,
            name:
                "a statement's messages are counted chat by chat, through the chat's key (PostgreSQL only: SQLite's triggers count per row)",
            sql: """
                -- The version keeps both engines' numbers equal.
                """
        ),
        Migration(
            version: 21,
            name:
                "a chat's messages are found through messages_by_chat whatever ANALYZE last sampled (PostgreSQL only: a setting of PostgreSQL's statistics)",
            sql: """
                -- The version keeps both engines' numbers equal.
                """
        ),
        Migration(
            version: 22,
            name:
                "imports that do not hold the writer long: written in short slices into hidden chats, published by one commit",
            sql: """
                -- NULL: a chat as every read path sees it. Otherwise the id of the import still writing it: no read
                -- path shows it nor counts it until the import's last commit clears the id; a failed import's
                -- rows (and, at start, those a crash left) are removed.
                ALTER TABLE chats ADD COLUMN import_id TEXT;
                CREATE INDEX chats_staged ON chats (import_id) WHERE import_id IS NOT NULL;
                DROP TRIGGER chats_count_insert;
                CREATE TRIGGER chats_count_insert AFTER INSERT ON chats WHEN NEW.import_id IS NULL BEGIN
                    UPDATE users SET chat_count = chat_count + 1 WHERE id = NEW.user_id;
                END;
                DROP TRIGGER chats_count_delete;
                CREATE TRIGGER chats_count_delete AFTER DELETE ON chats WHEN OLD.import_id IS NULL BEGIN
                    UPDATE users SET chat_count = chat_count - 1 WHERE id = OLD.user_id;
                END;
                DROP TRIGGER chats_archived_insert;
                CREATE TRIGGER chats_archived_insert AFTER INSERT ON chats
                WHEN NEW.archived = 1 AND NEW.import_id IS NULL BEGIN
                    UPDATE users SET archived_count = archived_count + 1 WHERE id = NEW.user_id;
                END;
                DROP TRIGGER chats_archived_delete;
                CREATE TRIGGER chats_archived_delete AFTER DELETE ON chats
                WHEN OLD.archived = 1 AND OLD.import_id IS NULL BEGIN
                    UPDATE users SET archived_count = archived_count - 1 WHERE id = OLD.user_id;
                END;
                -- Publishing counts the chat as its insert would have.
                CREATE TRIGGER chats_publish AFTER UPDATE OF import_id ON chats
                WHEN OLD.import_id IS NOT NULL AND NEW.import_id IS NULL BEGIN
                    UPDATE users SET chat_count = chat_count + 1, archived_count = archived_count + NEW.archived
                    WHERE id = NEW.user_id;
                END;
                """
        ),
        Migration(
            version: 23,
            name: "full-text search within the owner's rows: each indexed message and title holds its owner's token",
            sql: """
                -- Until now the index matched every user's rows and the owner was filtered afterwards, so a search
                -- cost as much as every user's matches. Each indexed row now holds its owner's token ('o' and the
                -- user id's hex digits) in an `owner` column, and a search's MATCH asks for it: FTS5 reads the
                -- owner's entries only. The indexes are rebuilt from views that give each row its owner.
                DROP TRIGGER messages_fts_insert;
                DROP TRIGGER messages_fts_delete;
                DROP TRIGGER messages_fts_update;
                DROP TRIGGER chats_fts_insert;
                DROP TRIGGER chats_fts_delete;
                DROP TRIGGER chats_fts_update;
                DROP TABLE messages_fts;
                DROP TABLE chats_fts;
                CREATE VIEW messages_fts_source AS
                    SELECT m.id AS id, 'o' || replace(c.user_id, '-', '') AS owner, m.content AS content
                    FROM messages m JOIN chats c ON c.id = m.chat_id WHERE m.status <> 'streaming';
                CREATE VIEW chats_fts_source AS
                    SELECT rowid AS chat_rowid, 'o' || replace(user_id, '-', '') AS owner, title
                    FROM chats WHERE title IS NOT NULL;
                CREATE VIRTUAL TABLE messages_fts USING fts5(
                    owner, content, content = 'messages_fts_source', content_rowid = 'id',
                    tokenize = 'unicode61 remove_diacritics 0'
                );
                CREATE VIRTUAL TABLE chats_fts USING fts5(
                    owner, title, content = 'chats_fts_source', content_rowid = 'chat_rowid',
                    tokenize = 'unicode61 remove_diacritics 0'
                );
                INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
                INSERT INTO chats_fts (chats_fts) VALUES ('rebuild');
                CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN NEW.status <> 'streaming' BEGIN
                    INSERT INTO messages_fts (rowid, owner, content)
                    SELECT NEW.id, 'o' || replace(c.user_id, '-', ''), NEW.content FROM chats c WHERE c.id = NEW.chat_id;
                END;
                -- A chat's deletion takes its messages out of the index before its row goes (the messages then go
                -- by cascade, when their owner can no longer be read): a message deleted on its own still has its
                -- chat, and only then does its own trigger act.
                CREATE TRIGGER messages_fts_chat_delete BEFORE DELETE ON chats BEGIN
                    INSERT INTO messages_fts (messages_fts, rowid, owner, content)
                    SELECT 'delete', m.id, 'o' || replace(OLD.user_id, '-', ''), m.content
                    FROM messages m WHERE m.chat_id = OLD.id AND m.status <> 'streaming';
                END;
                CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN OLD.status <> 'streaming' BEGIN
                    INSERT INTO messages_fts (messages_fts, rowid, owner, content)
                    SELECT 'delete', OLD.id, 'o' || replace(c.user_id, '-', ''), OLD.content
                    FROM chats c WHERE c.id = OLD.chat_id;
                END;
                CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, status ON messages
                WHEN OLD.status <> 'streaming' OR NEW.status <> 'streaming' BEGIN
                    INSERT INTO messages_fts (messages_fts, rowid, owner, content)
                    SELECT 'delete', OLD.id, 'o' || replace(c.user_id, '-', ''), OLD.content
                    FROM chats c WHERE c.id = OLD.chat_id AND OLD.status <> 'streaming';
                    INSERT INTO messages_fts (rowid, owner, content)
                    SELECT NEW.id, 'o' || replace(c.user_id, '-', ''), NEW.content
                    FROM chats c WHERE c.id = NEW.chat_id AND NEW.status <> 'streaming';
                END;
                CREATE TRIGGER chats_fts_insert AFTER INSERT ON chats WHEN NEW.title IS NOT NULL BEGIN
                    INSERT INTO chats_fts (rowid, owner, title)
                    VALUES (NEW.rowid, 'o' || replace(NEW.user_id, '-', ''), NEW.title);
                END;
                CREATE TRIGGER chats_fts_delete AFTER DELETE ON chats WHEN OLD.title IS NOT NULL BEGIN
                    INSERT INTO chats_fts (chats_fts, rowid, owner, title)
                    VALUES ('delete', OLD.rowid, 'o' || replace(OLD.user_id, '-', ''), OLD.title);
                END;
                CREATE TRIGGER chats_fts_update AFTER UPDATE OF title ON chats
                WHEN OLD.title IS NOT NEW.title BEGIN
                    INSERT INTO chats_fts (chats_fts, rowid, owner, title)
                    SELECT 'delete', OLD.rowid, 'o' || replace(OLD.user_id, '-', ''), OLD.title
                    WHERE OLD.title IS NOT NULL;
                    INSERT INTO chats_fts (rowid, owner, title)
                    SELECT NEW.rowid, 'o' || replace(NEW.user_id, '-', ''), NEW.title WHERE NEW.title IS NOT NULL;
                END;
                """
        ),
        Migration(
            version: 24,
            name: "prefix searches read one list per prefix of two or three characters (FTS5 prefix indexes)",
            sql: """
                -- A prefix term (`lo*`) made FTS5 merge the lists of every indexed word that starts with it, over
                -- every user's rows, before the owner's token could narrow anything: a user with no messages could
                -- hold the one connection for a second with a query of 16 such terms. With prefix indexes a term of
                -- two or three characters is one list, walked alongside the owner's like any word (about 3x the
                -- index work per indexed word; longer prefixes match few words, and merging them stays cheap). The
                -- triggers of migration 23 write to these tables by name and stay as they are.
                DROP TABLE messages_fts;
                DROP TABLE chats_fts;
                CREATE VIRTUAL TABLE messages_fts USING fts5(
                    owner, content, content = 'messages_fts_source', content_rowid = 'id',
                    tokenize = 'unicode61 remove_diacritics 0', prefix = '2 3'
                );
                CREATE VIRTUAL TABLE chats_fts USING fts5(
                    owner, title, content = 'chats_fts_source', content_rowid = 'chat_rowid',
                    tokenize = 'unicode61 remove_diacritics 0', prefix = '2 3'
                );
                INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
                INSERT INTO chats_fts (chats_fts) VALUES ('rebuild');
                """
        ),
        Migration(
            version: 25,
            name: "per-user API keys, stored as their SHA-256, and each key's usage per month",
            sql: """
                CREATE TABLE api_keys (
                    id TEXT PRIMARY KEY NOT NULL,
                    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    -- SHA-256 of the whole key, 64 hex digits: the key itself is never stored.
                    key_hash TEXT NOT NULL UNIQUE,
                    prefix TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    expires_at INTEGER,
                    last_used_at INTEGER,
                    -- A JSON array of model ids; NULL: every model on offer.
                    models TEXT,
                    monthly_token_budget INTEGER
                ) STRICT;
                CREATE INDEX api_keys_by_user ON api_keys (user_id, created_at, id);
                -- month: the UTC day (days since 1970) on which the month begins.
                CREATE TABLE api_key_usage (
                    key_id TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
                    month INTEGER NOT NULL,
                    requests INTEGER NOT NULL DEFAULT 0,
                    total_tokens INTEGER NOT NULL DEFAULT 0,
                    PRIMARY KEY (key_id, month)
                ) STRICT, WITHOUT ROWID;
                """
        ),
        Migration(
            version: 26,
            name: "the door's calls hold tokens against quotas and key budgets while they run (PostgreSQL only: "
                + "SQLite keeps them in a temporary table of its one connection, DatabaseActor+CallHolds.swift)",
            sql: """
                -- The version keeps both engines' numbers equal.
                """
        ),
    ]

    public static var latestVersion: Int { all.last?.version ?? 0 }

    /// Applies every migration newer than the database's `user_version`.
    /// Returns the versions before and after.
    @discardableResult
    static func apply(to connection: SQLiteConnection) throws -> (from: Int, to: Int) {
        let current = try connection.queryOne("PRAGMA user_version", cached: false) { $0.int(0) } ?? 0
        guard current <= latestVersion else {
            throw StorageError.newerSchema(found: current, supported: latestVersion)
        }
        for migration in all where migration.version > current {
            try connection.transaction {
                try connection.execute(migration.sql)
                try connection.execute("PRAGMA user_version = \(migration.version)")
            }
        }
        return (current, latestVersion)
    }
}
