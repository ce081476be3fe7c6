import ChatStorage
import Logging
import PostgresNIO

/// The PostgreSQL schema's history, numbered like the SQLite engine's (version `n` here holds what version `n`
/// holds there), so a store's schema version means the same on both engines and `chat-server copy` can
/// compare them. Applied at start, each version in its own transaction, under an advisory lock, so replicas
/// starting together never race: the first applies them, the others wait and find them applied.
///
/// Never edit a migration that has shipped: add a new one with the next number (on both engines).
enum PostgresMigrations {
    struct Migration: Sendable {
        let version: Int
        let name: String
        /// One statement each (the extended protocol runs one at a time).
        let statements: [String]
    }

    /// `pg_advisory_lock` key held while migrating ("aichatmg" in ASCII).
    static let lockKey: Int64 = 0x6169_6368_6174_6d67

    static let all: [Migration] = [
        Migration(
            version: 1,
            name: "users, chats, messages, settings",
            statements: [
                """
                CREATE TABLE users (
                    id uuid PRIMARY KEY,
                    email text NOT NULL,
                    password_hash text NOT NULL,
                    role text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
                    token_version bigint NOT NULL DEFAULT 0,
                    chat_count bigint NOT NULL DEFAULT 0,
                    created_at bigint NOT NULL
                )
                """,
                // Emails are stored lower-cased; the index makes them unique in any letter case all the same.
                "CREATE UNIQUE INDEX users_email ON users (lower(email))",
                """
                CREATE TABLE chats (
                    id uuid PRIMARY KEY,
                    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                    title text,
                    message_count bigint NOT NULL DEFAULT 0,
                    created_at bigint NOT NULL,
                    updated_at bigint NOT NULL
                )
                """,
                "CREATE INDEX chats_by_user_updated ON chats (user_id, updated_at DESC, id DESC)",
                """
                CREATE TABLE messages (
                    id bigserial PRIMARY KEY,
                    chat_id uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
                    role text NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
                    content text NOT NULL,
                    created_at bigint NOT NULL
                )
                """,
                "CREATE INDEX messages_by_chat ON messages (chat_id, id)",
                """
                CREATE FUNCTION chats_count() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP = 'INSERT' THEN
                        UPDATE users SET chat_count = chat_count + 1 WHERE id = NEW.user_id;
                    ELSE
                        UPDATE users SET chat_count = chat_count - 1 WHERE id = OLD.user_id;
                    END IF;
                    RETURN NULL;
                END $$
                """,
                "CREATE TRIGGER chats_count AFTER INSERT OR DELETE ON chats FOR EACH ROW EXECUTE FUNCTION chats_count()",
                """
                CREATE FUNCTION messages_count() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP = 'INSERT' THEN
                        UPDATE chats SET message_count = message_count + 1 WHERE id = NEW.chat_id;
                    ELSE
                        UPDATE chats SET message_count = message_count - 1 WHERE id = OLD.chat_id;
                    END IF;
                    RETURN NULL;
                END $$
                """,
                """
                CREATE TRIGGER messages_count AFTER INSERT OR DELETE ON messages
                FOR EACH ROW EXECUTE FUNCTION messages_count()
                """,
                "CREATE TABLE settings (key text PRIMARY KEY, value text NOT NULL)",
            ]
        ),
        Migration(
            version: 2,
            name: "message status, model and token counts for AI turns",
            statements: [
                """
                ALTER TABLE messages ADD COLUMN status text NOT NULL DEFAULT 'complete'
                    CHECK (status IN ('streaming', 'complete', 'failed', 'cancelled'))
                """,
                "ALTER TABLE messages ADD COLUMN error text",
                "ALTER TABLE messages ADD COLUMN model text",
                "ALTER TABLE messages ADD COLUMN prompt_tokens bigint",
                "ALTER TABLE messages ADD COLUMN completion_tokens bigint",
                "CREATE INDEX messages_streaming ON messages (status) WHERE status = 'streaming'",
            ]
        ),
        Migration(
            version: 3,
            name: "users can be disabled by an admin",
            statements: ["ALTER TABLE users ADD COLUMN disabled boolean NOT NULL DEFAULT false"]
        ),
        Migration(
            version: 4,
            name: "a chat's messages_version, bumped by every write to its messages",
            statements: [
                "ALTER TABLE chats ADD COLUMN messages_version bigint NOT NULL DEFAULT 0",
                """
                CREATE OR REPLACE FUNCTION messages_count() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP = 'INSERT' THEN
                        UPDATE chats SET message_count = message_count + 1, messages_version = messages_version + 1
                        WHERE id = NEW.chat_id;
                    ELSIF TG_OP = 'DELETE' THEN
                        UPDATE chats SET message_count = message_count - 1, messages_version = messages_version + 1
                        WHERE id = OLD.chat_id;
                    ELSE
                        UPDATE chats SET messages_version = messages_version + 1 WHERE id IN (OLD.chat_id, NEW.chat_id);
                    END IF;
                    RETURN NULL;
                END $$
                """,
                "DROP TRIGGER messages_count ON messages",
                """
                CREATE TRIGGER messages_count AFTER INSERT OR UPDATE OR DELETE ON messages
                FOR EACH ROW EXECUTE FUNCTION messages_count()
                """,
            ]
        ),
        Migration(
            version: 5,
            name: "replica leases and change notifications",
            statements: [
                // Every chat-server process on this database, with the time it last said it is alive.
                """
                CREATE TABLE replicas (
                    id uuid PRIMARY KEY,
                    started_at timestamptz NOT NULL DEFAULT now(),
                    heartbeat_at timestamptz NOT NULL DEFAULT now()
                )
                """,
                // The replica generating a streaming reply: only its lease running out fails the reply.
                "ALTER TABLE messages ADD COLUMN replica_id uuid",
                // Committed changes reach every replica (LISTEN chat_events): 'm' + chat id when a chat's messages
                // change, 'u' + user id when a user's sessions may have ended, 'c' + chat id for a cancel.
                """
                CREATE FUNCTION messages_notify() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    PERFORM pg_notify('chat_events', 'm' || COALESCE(NEW.chat_id, OLD.chat_id)::text);
                    RETURN NULL;
                END $$
                """,
                """
                CREATE TRIGGER messages_notify AFTER INSERT OR UPDATE OR DELETE ON messages
                FOR EACH ROW EXECUTE FUNCTION messages_notify()
                """,
                """
                CREATE FUNCTION users_notify() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP = 'DELETE' OR OLD.token_version <> NEW.token_version OR OLD.disabled <> NEW.disabled
                        OR OLD.role <> NEW.role OR OLD.password_hash <> NEW.password_hash THEN
                        PERFORM pg_notify('chat_events', 'u' || OLD.id::text);
                    END IF;
                    RETURN NULL;
                END $$
                """,
                """
                CREATE TRIGGER users_notify AFTER UPDATE OR DELETE ON users
                FOR EACH ROW EXECUTE FUNCTION users_notify()
                """,
            ]
        ),
        Migration(
            version: 6,
            name: "the deployment's log of upstream calls",
            statements: [
                // One row per call to the upstream from any replica, at the database's clock; rows older than the
                // window are deleted as calls are recorded.
                """
                CREATE TABLE upstream_calls (
                    id bigserial PRIMARY KEY,
                    at timestamptz NOT NULL DEFAULT clock_timestamp(),
                    tokens bigint NOT NULL
                )
                """,
                "CREATE INDEX upstream_calls_at ON upstream_calls (at)",
            ]
        ),
        Migration(
            version: 7,
            name: "the deployment's rate-limit events",
            statements: [
                // One row per counted event (a message sent, a registration) and key (a user, a client address).
                """
                CREATE TABLE rate_events (
                    key text NOT NULL,
                    at timestamptz NOT NULL DEFAULT clock_timestamp()
                )
                """,
                "CREATE INDEX rate_events_key_at ON rate_events (key, at)",
            ]
        ),
        Migration(
            version: 8,
            name: "a turn begins in one round trip",
            statements: [
                // Locks the chat's row (bumping its updated_at), refuses with SQLSTATE CB001 while a reply of the chat
                // is being generated, and inserts the user's message and the empty streaming reply. VOLATILE, so
                // the check after the lock takes a fresh snapshot and sees a reply committed while it waited. No
                // row: the chat does not exist.
                """
                CREATE FUNCTION begin_turn(p_chat uuid, p_content text, p_model text, p_replica uuid, p_now bigint)
                RETURNS SETOF messages LANGUAGE plpgsql VOLATILE AS $$
                BEGIN
                    UPDATE chats SET updated_at = p_now WHERE id = p_chat;
                    IF NOT FOUND THEN RETURN; END IF;
                    IF EXISTS (SELECT 1 FROM messages WHERE chat_id = p_chat AND status = 'streaming') THEN
                        RAISE EXCEPTION 'a reply of chat % is being generated', p_chat USING ERRCODE = 'CB001';
                    END IF;
                    RETURN QUERY
                        INSERT INTO messages (chat_id, role, content, created_at, status, model, replica_id)
                        VALUES (p_chat, 'user', p_content, p_now, 'complete', NULL, NULL),
                            (p_chat, 'assistant', '', p_now, 'streaming', p_model, p_replica)
                        RETURNING *;
                END $$
                """
            ]
        ),
        Migration(
            version: 9,
            name: "message changes notified after commit",
            statements: [
                // The store's ChangeNotifier sends them after the commit, batched, outside the data
                // transactions: PostgreSQL serialises the commits of all transactions that notify.
                "DROP TRIGGER messages_notify ON messages",
                "DROP FUNCTION messages_notify()",
            ]
        ),
        Migration(
            version: 10,
            name: "token usage per user per day, token quotas, and a running reply's reservation",
            statements: [
                // NULL: the deployment's default (DAILY_TOKEN_QUOTA, MONTHLY_TOKEN_QUOTA); 0: unlimited.
                "ALTER TABLE users ADD COLUMN daily_token_quota bigint CHECK (daily_token_quota >= 0)",
                "ALTER TABLE users ADD COLUMN monthly_token_quota bigint CHECK (monthly_token_quota >= 0)",
                // A running reply's reservation against its user's quotas: a row of its own, found by user, gone
                // when the reply leaves `streaming` (trigger) or is deleted (cascade). Ending a reply touches its
                // own row only, never the user's, so one user's many replies end without waiting on each other.
                "ALTER TABLE messages ADD COLUMN reserved_tokens bigint",
                """
                CREATE TABLE reservations (
                    message_id bigint PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
                    user_id uuid NOT NULL,
                    tokens bigint NOT NULL
                )
                """,
                "CREATE INDEX reservations_by_user ON reservations (user_id)",
                """
                CREATE FUNCTION messages_release() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    DELETE FROM reservations WHERE message_id = OLD.id;
                    RETURN NULL;
                END $$
                """,
                """
                CREATE TRIGGER messages_release AFTER UPDATE OF status ON messages FOR EACH ROW
                WHEN (OLD.status = 'streaming' AND NEW.status <> 'streaming' AND OLD.reserved_tokens IS NOT NULL)
                EXECUTE FUNCTION messages_release()
                """,
                // `day`: days since 1970-01-01, UTC.
                """
                CREATE TABLE usage_daily (
                    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                    day integer NOT NULL,
                    requests bigint NOT NULL DEFAULT 0,
                    prompt_tokens bigint NOT NULL DEFAULT 0,
                    completion_tokens bigint NOT NULL DEFAULT 0,
                    estimated_requests bigint NOT NULL DEFAULT 0,
                    PRIMARY KEY (user_id, day)
                )
                """,
                "CREATE INDEX usage_daily_by_day ON usage_daily (day, user_id)",
                // A quota set by an admin reaches every replica's user cache at once.
                """
                CREATE OR REPLACE FUNCTION users_notify() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP = 'DELETE' OR OLD.token_version <> NEW.token_version OR OLD.disabled <> NEW.disabled
                        OR OLD.role <> NEW.role OR OLD.password_hash <> NEW.password_hash
                        OR OLD.daily_token_quota IS DISTINCT FROM NEW.daily_token_quota
                        OR OLD.monthly_token_quota IS DISTINCT FROM NEW.monthly_token_quota THEN
                        PERFORM pg_notify('chat_events', 'u' || OLD.id::text);
                    END IF;
                    RETURN NULL;
                END $$
                """,
                "DROP FUNCTION begin_turn(uuid, text, text, uuid, bigint)",
                // With limits, the user's row is locked (after the chat's) until the commit, so one user's turns
                // are admitted one at a time on every replica: each sees the reservations of those admitted
                // before it. Nothing else takes that lock on a turn's path.
                """
                CREATE FUNCTION begin_turn(
                    p_chat uuid, p_content text, p_model text, p_replica uuid, p_now bigint, p_after bigint,
                    p_user uuid, p_reserve bigint, p_today integer, p_month_start integer, p_daily bigint,
                    p_monthly bigint
                ) RETURNS SETOF messages LANGUAGE plpgsql VOLATILE AS $$
                DECLARE
                    v_today bigint;
                    v_month bigint;
                    v_reserved bigint;
                BEGIN
                    UPDATE chats SET updated_at = p_now WHERE id = p_chat;
                    IF NOT FOUND THEN RETURN; END IF;
                    IF EXISTS (SELECT 1 FROM messages WHERE chat_id = p_chat AND status = 'streaming')
                        OR EXISTS (SELECT 1 FROM messages WHERE chat_id = p_chat AND id > p_after) THEN
                        RAISE EXCEPTION 'a reply of chat % is being generated', p_chat USING ERRCODE = 'CB001';
                    END IF;
                    IF p_daily IS NOT NULL OR p_monthly IS NOT NULL THEN
                        PERFORM 1 FROM users WHERE id = p_user FOR NO KEY UPDATE;
                        SELECT coalesce(sum(tokens), 0) INTO v_reserved FROM reservations WHERE user_id = p_user;
                        SELECT coalesce(sum(prompt_tokens + completion_tokens) FILTER (WHERE day = p_today), 0),
                            coalesce(sum(prompt_tokens + completion_tokens), 0)
                        INTO v_today, v_month
                        FROM usage_daily WHERE user_id = p_user AND day BETWEEN p_month_start AND p_today;
                        IF p_daily IS NOT NULL AND v_today + v_reserved >= p_daily THEN
                            RAISE EXCEPTION 'daily token quota reached' USING ERRCODE = 'CQ001';
                        END IF;
                        IF p_monthly IS NOT NULL AND v_month + v_reserved >= p_monthly THEN
                            RAISE EXCEPTION 'monthly token quota reached' USING ERRCODE = 'CQ002';
                        END IF;
                    END IF;
                    RETURN QUERY
                        WITH inserted AS (
                            INSERT INTO messages (chat_id, role, content, created_at, status, model, replica_id,
                                reserved_tokens)
                            VALUES (p_chat, 'user', p_content, p_now, 'complete', NULL, NULL, NULL),
                                (p_chat, 'assistant', '', p_now, 'streaming', p_model, p_replica, p_reserve)
                            RETURNING *
                        ), held AS (
                            INSERT INTO reservations (message_id, user_id, tokens)
                            SELECT id, p_user, p_reserve FROM inserted
                            WHERE status = 'streaming' AND p_reserve IS NOT NULL AND p_user IS NOT NULL
                        )
                        SELECT * FROM inserted;
                END $$
                """,
            ]
        ),
        Migration(
            version: 11,
            name: "a chat's model, system prompt, pin and archive",
            statements: [
                // NULL: the deployment's default (GROQ_MODEL, SYSTEM_PROMPT).
                "ALTER TABLE chats ADD COLUMN model text",
                "ALTER TABLE chats ADD COLUMN system_prompt text",
                "ALTER TABLE chats ADD COLUMN pinned boolean NOT NULL DEFAULT false",
                "ALTER TABLE chats ADD COLUMN archived boolean NOT NULL DEFAULT false",
                // GET /chats: pinned first, then newest updated, archived or not, still without a sort or a scan.
                "DROP INDEX chats_by_user_updated",
                "CREATE INDEX chats_by_user_listing ON chats (user_id, archived, pinned DESC, updated_at DESC, id DESC)",
                // Maintained like chat_count, so either listing's total reads one row.
                "ALTER TABLE users ADD COLUMN archived_count bigint NOT NULL DEFAULT 0",
                """
                CREATE OR REPLACE FUNCTION chats_count() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP = 'INSERT' THEN
                        UPDATE users SET chat_count = chat_count + 1, archived_count = archived_count + NEW.archived::int
                        WHERE id = NEW.user_id;
                    ELSIF TG_OP = 'DELETE' THEN
                        UPDATE users SET chat_count = chat_count - 1, archived_count = archived_count - OLD.archived::int
                        WHERE id = OLD.user_id;
                    ELSIF OLD.archived <> NEW.archived THEN
                        UPDATE users SET archived_count = archived_count + NEW.archived::int - OLD.archived::int
                        WHERE id = NEW.user_id;
                    END IF;
                    RETURN NULL;
                END $$
                """,
                "DROP TRIGGER chats_count ON chats",
                """
                CREATE TRIGGER chats_count AFTER INSERT OR DELETE OR UPDATE OF archived ON chats
                FOR EACH ROW EXECUTE FUNCTION chats_count()
                """,
            ]
        ),
        Migration(
            version: 12,
            name: "full-text search over messages and chat titles",
            statements: [
                // Computed by PostgreSQL in the writing statement itself; a reply once it leaves `streaming` (its
                // text changes until then). 'simple': case folded, no stemming, no stop words, any language.
                """
                ALTER TABLE messages ADD COLUMN search tsvector GENERATED ALWAYS AS (
                    CASE WHEN status = 'streaming' THEN NULL ELSE to_tsvector('simple', content) END
                ) STORED
                """,
                "CREATE INDEX messages_search ON messages USING gin (search)",
                """
                ALTER TABLE chats ADD COLUMN search tsvector GENERATED ALWAYS AS (
                    to_tsvector('simple', coalesce(title, ''))
                ) STORED
                """,
                "CREATE INDEX chats_search ON chats USING gin (search)",
            ]
        ),
        Migration(
            version: 13,
            name: "branches: each message's parent, and the chat's active path",
            statements: [
                // A chat's messages form a tree (regenerated replies and edited messages are siblings); the active
                // path is the branch the chat reads as. Until now every chat was one line: each message follows
                // the one before it, and every message is on the path.
                "ALTER TABLE messages ADD COLUMN parent_id bigint",
                "ALTER TABLE messages ADD COLUMN on_path boolean NOT NULL DEFAULT true",
                """
                UPDATE messages m SET parent_id = p.previous
                FROM (SELECT id, lag(id) OVER (PARTITION BY chat_id ORDER BY id) AS previous FROM messages) p
                WHERE p.id = m.id AND p.previous IS NOT NULL
                """,
                // The path from p_leaf up to the root becomes the chat's active path (none for NULL).
                """
                CREATE FUNCTION activate_path(p_chat uuid, p_leaf bigint) RETURNS void LANGUAGE sql AS $$
                    WITH RECURSIVE path(id, parent_id) AS (
                        SELECT id, parent_id FROM messages WHERE id = p_leaf AND chat_id = p_chat
                        UNION ALL
                        SELECT m.id, m.parent_id FROM messages m JOIN path ON m.id = path.parent_id
                    )
                    UPDATE messages SET on_path = (messages.id IN (SELECT id FROM path))
                    WHERE chat_id = p_chat AND on_path <> (messages.id IN (SELECT id FROM path))
                $$
                """,
                "DROP FUNCTION begin_turn(uuid, text, text, uuid, bigint, bigint, uuid, bigint, integer, integer, bigint, bigint)",
                // As in migration 10, and: the turn's messages go under p_parent. Without p_branch the active path
                // must still end there (else CB001: the caller reads its context again); with it, the path
                // switches to the branch through p_parent first. p_content NULL: a regenerated reply, answering
                // p_parent itself (returned as the first row).
                """
                CREATE FUNCTION begin_turn(
                    p_chat uuid, p_content text, p_model text, p_replica uuid, p_now bigint, p_after bigint,
                    p_user uuid, p_reserve bigint, p_today integer, p_month_start integer, p_daily bigint,
                    p_monthly bigint, p_parent bigint, p_branch boolean
                ) RETURNS SETOF messages LANGUAGE plpgsql VOLATILE AS $$
                DECLARE
                    v_today bigint;
                    v_month bigint;
                    v_reserved bigint;
                    v_asked messages;
                    v_reply messages;
                BEGIN
                    UPDATE chats SET updated_at = p_now WHERE id = p_chat;
                    IF NOT FOUND THEN RETURN; END IF;
                    IF EXISTS (SELECT 1 FROM messages WHERE chat_id = p_chat AND status = 'streaming')
                        OR EXISTS (SELECT 1 FROM messages WHERE chat_id = p_chat AND id > p_after) THEN
                        RAISE EXCEPTION 'a reply of chat % is being generated', p_chat USING ERRCODE = 'CB001';
                    END IF;
                    IF p_parent IS NOT NULL
                        AND NOT EXISTS (SELECT 1 FROM messages WHERE id = p_parent AND chat_id = p_chat) THEN
                        RETURN;
                    END IF;
                    IF p_branch THEN
                        PERFORM activate_path(p_chat, p_parent);
                    ELSIF (SELECT max(id) FROM messages WHERE chat_id = p_chat AND on_path) IS DISTINCT FROM p_parent THEN
                        RAISE EXCEPTION 'the active path of chat % changed', p_chat USING ERRCODE = 'CB001';
                    END IF;
                    IF p_daily IS NOT NULL OR p_monthly IS NOT NULL THEN
                        PERFORM 1 FROM users WHERE id = p_user FOR NO KEY UPDATE;
                        SELECT coalesce(sum(tokens), 0) INTO v_reserved FROM reservations WHERE user_id = p_user;
                        SELECT coalesce(sum(prompt_tokens + completion_tokens) FILTER (WHERE day = p_today), 0),
                            coalesce(sum(prompt_tokens + completion_tokens), 0)
                        INTO v_today, v_month
                        FROM usage_daily WHERE user_id = p_user AND day BETWEEN p_month_start AND p_today;
                        IF p_daily IS NOT NULL AND v_today + v_reserved >= p_daily THEN
                            RAISE EXCEPTION 'daily token quota reached' USING ERRCODE = 'CQ001';
                        END IF;
                        IF p_monthly IS NOT NULL AND v_month + v_reserved >= p_monthly THEN
                            RAISE EXCEPTION 'monthly token quota reached' USING ERRCODE = 'CQ002';
                        END IF;
                    END IF;
                    IF p_content IS NULL THEN
                        SELECT * INTO v_asked FROM messages WHERE id = p_parent;
                        IF NOT FOUND THEN RETURN; END IF;
                    ELSE
                        INSERT INTO messages (chat_id, role, content, created_at, status, parent_id)
                        VALUES (p_chat, 'user', p_content, p_now, 'complete', p_parent)
                        RETURNING * INTO v_asked;
                    END IF;
                    INSERT INTO messages (chat_id, role, content, created_at, status, model, replica_id,
                        reserved_tokens, parent_id)
                    VALUES (p_chat, 'assistant', '', p_now, 'streaming', p_model, p_replica, p_reserve, v_asked.id)
                    RETURNING * INTO v_reply;
                    IF p_reserve IS NOT NULL AND p_user IS NOT NULL THEN
                        INSERT INTO reservations (message_id, user_id, tokens) VALUES (v_reply.id, p_user, p_reserve);
                    END IF;
                    RETURN NEXT v_asked;
                    RETURN NEXT v_reply;
                END $$
                """,
            ]
        ),
        Migration(
            version: 14,
            name: "a chat's updated_at is never older than its newest message; a turn updates its chat's row once",
            statements: [
                // Why: PostgreSQL checks a row's foreign keys again when the row is updated a second time in one
                // transaction (the version it updates is its own), and the check of chats.user_id takes a KEY
                // SHARE lock on the user's row. The per-row trigger updated the chat once per message, after
                // begin_turn and the reply's end had updated it already, so every turn locked its user's row:
                // one user's concurrent turns piled their transactions into one multixact that every reader of
                // the row expands (a third of PostgreSQL's CPU in chat-bench's send). Now inserts and deletes
                // are counted once per statement, begin_turn locks the chat without updating it and writes
                // both messages in one statement, and an update of messages bumps its chat in the same
                // statement (FinishMessageStatement, UpdateStreamingContentStatement, failInterruptedTurns,
                // activate_path), so no turn updates a chat's row twice.
                "DROP TRIGGER messages_count ON messages",
                "DROP FUNCTION messages_count()",
                // A chat's updated_at is never older than its newest message.
                """
                CREATE FUNCTION messages_added() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    UPDATE chats c SET message_count = c.message_count + a.n, messages_version = c.messages_version + 1,
                        updated_at = greatest(c.updated_at, a.newest)
                    FROM (SELECT chat_id, count(*) AS n, max(created_at) AS newest FROM added GROUP BY chat_id) a
                    WHERE c.id = a.chat_id;
                    RETURN NULL;
                END $$
                """,
                """
                CREATE TRIGGER messages_added AFTER INSERT ON messages REFERENCING NEW TABLE AS added
                FOR EACH STATEMENT EXECUTE FUNCTION messages_added()
                """,
                """
                CREATE FUNCTION messages_removed() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    UPDATE chats c SET message_count = c.message_count - r.n, messages_version = c.messages_version + 1
                    FROM (SELECT chat_id, count(*) AS n FROM removed GROUP BY chat_id) r
                    WHERE c.id = r.chat_id;
                    RETURN NULL;
                END $$
                """,
                """
                CREATE TRIGGER messages_removed AFTER DELETE ON messages REFERENCING OLD TABLE AS removed
                FOR EACH STATEMENT EXECUTE FUNCTION messages_removed()
                """,
                """
                CREATE OR REPLACE FUNCTION activate_path(p_chat uuid, p_leaf bigint) RETURNS void LANGUAGE sql AS $$
                    WITH RECURSIVE path(id, parent_id) AS (
                        SELECT id, parent_id FROM messages WHERE id = p_leaf AND chat_id = p_chat
                        UNION ALL
                        SELECT m.id, m.parent_id FROM messages m JOIN path ON m.id = path.parent_id
                    ), moved AS (
                        UPDATE messages SET on_path = (messages.id IN (SELECT id FROM path))
                        WHERE chat_id = p_chat AND on_path <> (messages.id IN (SELECT id FROM path))
                    )
                    UPDATE chats SET messages_version = messages_version + 1 WHERE id = p_chat
                $$
                """,
                // As in migration 13, but the chat is locked (FOR NO KEY UPDATE) rather than updated, and the
                // messages are written in one INSERT, whose trigger updates the chat (count, version,
                // updated_at) once. Ids are taken under the chat's lock, so they grow in commit order.
                """
                CREATE OR REPLACE FUNCTION begin_turn(
                    p_chat uuid, p_content text, p_model text, p_replica uuid, p_now bigint, p_after bigint,
                    p_user uuid, p_reserve bigint, p_today integer, p_month_start integer, p_daily bigint,
                    p_monthly bigint, p_parent bigint, p_branch boolean
                ) RETURNS SETOF messages LANGUAGE plpgsql VOLATILE AS $$
                DECLARE
                    v_today bigint;
                    v_month bigint;
                    v_reserved bigint;
                    v_asked bigint;
                    v_reply bigint;
                BEGIN
                    PERFORM 1 FROM chats WHERE id = p_chat FOR NO KEY UPDATE;
                    IF NOT FOUND THEN RETURN; END IF;
                    IF EXISTS (SELECT 1 FROM messages WHERE chat_id = p_chat AND status = 'streaming')
                        OR EXISTS (SELECT 1 FROM messages WHERE chat_id = p_chat AND id > p_after) THEN
                        RAISE EXCEPTION 'a reply of chat % is being generated', p_chat USING ERRCODE = 'CB001';
                    END IF;
                    IF p_parent IS NOT NULL
                        AND NOT EXISTS (SELECT 1 FROM messages WHERE id = p_parent AND chat_id = p_chat) THEN
                        RETURN;
                    END IF;
                    IF p_branch THEN
                        PERFORM activate_path(p_chat, p_parent);
                    ELSIF (SELECT max(id) FROM messages WHERE chat_id = p_chat AND on_path) IS DISTINCT FROM p_parent THEN
                        RAISE EXCEPTION 'the active path of chat % changed', p_chat USING ERRCODE = 'CB001';
                    END IF;
                    IF p_daily IS NOT NULL OR p_monthly IS NOT NULL THEN
                        PERFORM 1 FROM users WHERE id = p_user FOR NO KEY UPDATE;
                        SELECT coalesce(sum(tokens), 0) INTO v_reserved FROM reservations WHERE user_id = p_user;
                        SELECT coalesce(sum(prompt_tokens + completion_tokens) FILTER (WHERE day = p_today), 0),
                            coalesce(sum(prompt_tokens + completion_tokens), 0)
                        INTO v_today, v_month
                        FROM usage_daily WHERE user_id = p_user AND day BETWEEN p_month_start AND p_today;
                        IF p_daily IS NOT NULL AND v_today + v_reserved >= p_daily THEN
                            RAISE EXCEPTION 'daily token quota reached' USING ERRCODE = 'CQ001';
                        END IF;
                        IF p_monthly IS NOT NULL AND v_month + v_reserved >= p_monthly THEN
                            RAISE EXCEPTION 'monthly token quota reached' USING ERRCODE = 'CQ002';
                        END IF;
                    END IF;
                    IF p_content IS NULL THEN
                        v_asked := p_parent;
                        v_reply := nextval('messages_id_seq');
                        INSERT INTO messages (id, chat_id, role, content, created_at, status, model, replica_id,
                            reserved_tokens, parent_id)
                        VALUES (v_reply, p_chat, 'assistant', '', p_now, 'streaming', p_model, p_replica, p_reserve,
                            v_asked);
                    ELSE
                        v_asked := nextval('messages_id_seq');
                        v_reply := nextval('messages_id_seq');
                        INSERT INTO messages (id, chat_id, role, content, created_at, status, model, replica_id,
                            reserved_tokens, parent_id)
                        VALUES (v_asked, p_chat, 'user', p_content, p_now, 'complete', NULL, NULL, NULL, p_parent),
                            (v_reply, p_chat, 'assistant', '', p_now, 'streaming', p_model, p_replica, p_reserve,
                            v_asked);
                    END IF;
                    IF p_reserve IS NOT NULL AND p_user IS NOT NULL THEN
                        INSERT INTO reservations (message_id, user_id, tokens) VALUES (v_reply, p_user, p_reserve);
                    END IF;
                    RETURN QUERY SELECT * FROM messages WHERE id IN (v_asked, v_reply) ORDER BY id;
                END $$
                """,
            ]
        ),
        Migration(
            version: 15,
            name: "one user's concurrent writes do not queue on one row: usage in slots, chats counted before insert",
            statements: [
                // Why: every reply's end adds to its user's usage of the day. With one row per (user, day), one
                // user's concurrent replies queued on that row's lock, each until the one before it committed
                // (10 to 13 ms per reply's end in chat-bench's send, 0.8 ms once it stopped queueing). Each
                // charge now adds to one of the day's slots (UsageSlots), so two meet only when their slots do;
                // readers sum the slots.
                "ALTER TABLE usage_daily ADD COLUMN slot smallint NOT NULL DEFAULT 0",
                "ALTER TABLE usage_daily DROP CONSTRAINT usage_daily_pkey",
                "ALTER TABLE usage_daily ADD PRIMARY KEY (user_id, day, slot)",
                // Why: a new chat's foreign-key check took a KEY SHARE lock on its user's row, and the count
                // trigger (after it) then updated that row; with several of the user's chats created at once,
                // every update had to fold the others' locks into a new multixact, so the row's lock grew with
                // each creation and every reader of it expanded it (275 ms per INSERT into chats while
                // chat-bench seeded 10,000 chats of one user). Counting before the insert updates the row
                // first; the check then finds it locked by its own transaction and adds nothing.
                """
                CREATE FUNCTION chats_added() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    UPDATE users SET chat_count = chat_count + 1, archived_count = archived_count + NEW.archived::int
                    WHERE id = NEW.user_id;
                    RETURN NEW;
                END $$
                """,
                "CREATE TRIGGER chats_added BEFORE INSERT ON chats FOR EACH ROW EXECUTE FUNCTION chats_added()",
                "DROP TRIGGER chats_count ON chats",
                // Without its insert branch, which chats_added took over.
                """
                CREATE OR REPLACE FUNCTION chats_count() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP = 'DELETE' THEN
                        UPDATE users SET chat_count = chat_count - 1, archived_count = archived_count - OLD.archived::int
                        WHERE id = OLD.user_id;
                    ELSIF OLD.archived <> NEW.archived THEN
                        UPDATE users SET archived_count = archived_count + NEW.archived::int - OLD.archived::int
                        WHERE id = NEW.user_id;
                    END IF;
                    RETURN NULL;
                END $$
                """,
                """
                CREATE TRIGGER chats_count AFTER DELETE OR UPDATE OF archived ON chats
                FOR EACH ROW EXECUTE FUNCTION chats_count()
                """,
            ]
        ),
        Migration(
            version: 16,
            name: "streaming replies indexed by chat",
            statements: [
                // Why: a turn's start asks whether its chat has a reply streaming. Indexed by status, that was a
                // bitmap AND of the chat's messages and every streaming reply of the deployment, dead index
                // entries of replies finished since the last vacuum included (all 512 of chat-bench's send
                // clients reply at once); by chat, it reads the chat's own entries.
                "DROP INDEX messages_streaming",
                "CREATE INDEX messages_streaming ON messages (chat_id) WHERE status = 'streaming'",
            ]
        ),
        Migration(
            version: 17,
            name: "a new message's turn reads its context and begins in one statement",
            statements: [
                // Why: a turn read its context, then called begin_turn, which checked that nothing had been saved
                // since: two round trips. For a new message after the active path with no quota to admit (the
                // reservation is computed from the context), this does both under the chat's lock: the history
                // it returns is the one the new messages follow, so there is nothing to check afterwards.
                // Rows: the history (r_saved false; newest first, at most p_limit), then the user's message and
                // the reply (r_saved true); none when the chat is gone or not p_owner's. The reply's model: the
                // turn's own, else the chat's if on offer, else the default (ModelChoice).
                """
                CREATE FUNCTION begin_turn_with_context(
                    p_chat uuid, p_owner uuid, p_content text, p_chosen text, p_offered text[], p_default text,
                    p_replica uuid, p_now bigint, p_limit bigint
                ) RETURNS TABLE (
                    r_saved boolean, r_system_prompt text, r_title text, r_id bigint, r_chat_id uuid, r_role text,
                    r_content text, r_created_at bigint, r_status text, r_error text, r_model text,
                    r_prompt_tokens bigint, r_completion_tokens bigint, r_parent_id bigint, r_on_path boolean
                ) LANGUAGE plpgsql VOLATILE AS $$
                DECLARE
                    v_model text;
                    v_system text;
                    v_title text;
                    v_parent bigint;
                    v_asked bigint;
                    v_reply bigint;
                BEGIN
                    SELECT c.model, c.system_prompt, c.title INTO v_model, v_system, v_title
                    FROM chats c WHERE c.id = p_chat AND (p_owner IS NULL OR c.user_id = p_owner) FOR NO KEY UPDATE;
                    IF NOT FOUND THEN RETURN; END IF;
                    IF EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = p_chat AND m.status = 'streaming') THEN
                        RAISE EXCEPTION 'a reply of chat % is being generated', p_chat USING ERRCODE = 'CB001';
                    END IF;
                    SELECT max(m.id) INTO v_parent FROM messages m WHERE m.chat_id = p_chat AND m.on_path;
                    RETURN QUERY
                        SELECT false, v_system, v_title, m.id, m.chat_id, m.role, m.content, m.created_at, m.status,
                            m.error, m.model, m.prompt_tokens, m.completion_tokens, m.parent_id, m.on_path
                        FROM messages m WHERE m.chat_id = p_chat AND m.on_path AND m.status = 'complete'
                        ORDER BY m.id DESC LIMIT p_limit;
                    v_asked := nextval('messages_id_seq');
                    v_reply := nextval('messages_id_seq');
                    INSERT INTO messages (id, chat_id, role, content, created_at, status, model, replica_id,
                        reserved_tokens, parent_id)
                    VALUES (v_asked, p_chat, 'user', p_content, p_now, 'complete', NULL, NULL, NULL, v_parent),
                        (v_reply, p_chat, 'assistant', '', p_now, 'streaming',
                        coalesce(p_chosen, CASE WHEN v_model = ANY (p_offered) THEN v_model END, p_default),
                        p_replica, NULL, v_asked);
                    RETURN QUERY
                        SELECT true, v_system, v_title, m.id, m.chat_id, m.role, m.content, m.created_at, m.status,
                            m.error, m.model, m.prompt_tokens, m.completion_tokens, m.parent_id, m.on_path
                        FROM messages m WHERE m.id IN (v_asked, v_reply) ORDER BY m.id;
                END $$
                """
            ]
        ),
        Migration(
            version: 18,
            name: "a turn's start returns its new messages from the INSERT",
            statements: [
                // Why: begin_turn_with_context read its two new messages back with `WHERE id IN (…)`. PL/pgSQL
                // caches that plan per connection and switches to a generic one after five calls; planned while
                // the table was a few pages, the generic plan was a sequential scan, and it stayed one as the
                // table grew until an ANALYZE replaced it: in a fresh database under chat-bench's send load,
                // some runs read 14 to 22 million rows in 4,000 turns, and PostgreSQL's CPU per turn doubled.
                // RETURNING hands back the rows it wrote, with no plan to go wrong and one statement fewer.
                // begin_turn (regenerations, edits, quota turns) read them back the same way and now returns them
                // alike; a regeneration's parent, which it does not insert, is read by `id =`.
                """
                CREATE OR REPLACE FUNCTION begin_turn(
                    p_chat uuid, p_content text, p_model text, p_replica uuid, p_now bigint, p_after bigint,
                    p_user uuid, p_reserve bigint, p_today integer, p_month_start integer, p_daily bigint,
                    p_monthly bigint, p_parent bigint, p_branch boolean
                ) RETURNS SETOF messages LANGUAGE plpgsql VOLATILE AS $$
                DECLARE
                    v_today bigint;
                    v_month bigint;
                    v_reserved bigint;
                    v_asked bigint;
                    v_reply bigint;
                BEGIN
                    PERFORM 1 FROM chats WHERE id = p_chat FOR NO KEY UPDATE;
                    IF NOT FOUND THEN RETURN; END IF;
                    IF EXISTS (SELECT 1 FROM messages WHERE chat_id = p_chat AND status = 'streaming')
                        OR EXISTS (SELECT 1 FROM messages WHERE chat_id = p_chat AND id > p_after) THEN
                        RAISE EXCEPTION 'a reply of chat % is being generated', p_chat USING ERRCODE = 'CB001';
                    END IF;
                    IF p_parent IS NOT NULL
                        AND NOT EXISTS (SELECT 1 FROM messages WHERE id = p_parent AND chat_id = p_chat) THEN
                        RETURN;
                    END IF;
                    IF p_branch THEN
                        PERFORM activate_path(p_chat, p_parent);
                    ELSIF (SELECT max(id) FROM messages WHERE chat_id = p_chat AND on_path) IS DISTINCT FROM p_parent THEN
                        RAISE EXCEPTION 'the active path of chat % changed', p_chat USING ERRCODE = 'CB001';
                    END IF;
                    IF p_daily IS NOT NULL OR p_monthly IS NOT NULL THEN
                        PERFORM 1 FROM users WHERE id = p_user FOR NO KEY UPDATE;
                        SELECT coalesce(sum(tokens), 0) INTO v_reserved FROM reservations WHERE user_id = p_user;
                        SELECT coalesce(sum(prompt_tokens + completion_tokens) FILTER (WHERE day = p_today), 0),
                            coalesce(sum(prompt_tokens + completion_tokens), 0)
                        INTO v_today, v_month
                        FROM usage_daily WHERE user_id = p_user AND day BETWEEN p_month_start AND p_today;
                        IF p_daily IS NOT NULL AND v_today + v_reserved >= p_daily THEN
                            RAISE EXCEPTION 'daily token quota reached' USING ERRCODE = 'CQ001';
                        END IF;
                        IF p_monthly IS NOT NULL AND v_month + v_reserved >= p_monthly THEN
                            RAISE EXCEPTION 'monthly token quota reached' USING ERRCODE = 'CQ002';
                        END IF;
                    END IF;
                    IF p_content IS NULL THEN
                        v_reply := nextval('messages_id_seq');
                        RETURN QUERY SELECT * FROM messages WHERE id = p_parent;
                        RETURN QUERY
                            INSERT INTO messages (id, chat_id, role, content, created_at, status, model, replica_id,
                                reserved_tokens, parent_id)
                            VALUES (v_reply, p_chat, 'assistant', '', p_now, 'streaming', p_model, p_replica,
                                p_reserve, p_parent)
                            RETURNING *;
                    ELSE
                        v_asked := nextval('messages_id_seq');
                        v_reply := nextval('messages_id_seq');
                        RETURN QUERY
                            WITH saved AS (
                                INSERT INTO messages (id, chat_id, role, content, created_at, status, model,
                                    replica_id, reserved_tokens, parent_id)
                                VALUES (v_asked, p_chat, 'user', p_content, p_now, 'complete', NULL, NULL, NULL,
                                    p_parent),
                                    (v_reply, p_chat, 'assistant', '', p_now, 'streaming', p_model, p_replica,
                                    p_reserve, v_asked)
                                RETURNING *
                            )
                            SELECT * FROM saved ORDER BY id;
                    END IF;
                    IF p_reserve IS NOT NULL AND p_user IS NOT NULL THEN
                        INSERT INTO reservations (message_id, user_id, tokens) VALUES (v_reply, p_user, p_reserve);
                    END IF;
                END $$
                """,
                """
                CREATE OR REPLACE FUNCTION begin_turn_with_context(
                    p_chat uuid, p_owner uuid, p_content text, p_chosen text, p_offered text[], p_default text,
                    p_replica uuid, p_now bigint, p_limit bigint
                ) RETURNS TABLE (
                    r_saved boolean, r_system_prompt text, r_title text, r_id bigint, r_chat_id uuid, r_role text,
                    r_content text, r_created_at bigint, r_status text, r_error text, r_model text,
                    r_prompt_tokens bigint, r_completion_tokens bigint, r_parent_id bigint, r_on_path boolean
                ) LANGUAGE plpgsql VOLATILE AS $$
                DECLARE
                    v_model text;
                    v_system text;
                    v_title text;
                    v_parent bigint;
                    v_asked bigint;
                    v_reply bigint;
                BEGIN
                    SELECT c.model, c.system_prompt, c.title INTO v_model, v_system, v_title
                    FROM chats c WHERE c.id = p_chat AND (p_owner IS NULL OR c.user_id = p_owner) FOR NO KEY UPDATE;
                    IF NOT FOUND THEN RETURN; END IF;
                    IF EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = p_chat AND m.status = 'streaming') THEN
                        RAISE EXCEPTION 'a reply of chat % is being generated', p_chat USING ERRCODE = 'CB001';
                    END IF;
                    SELECT max(m.id) INTO v_parent FROM messages m WHERE m.chat_id = p_chat AND m.on_path;
                    RETURN QUERY
                        SELECT false, v_system, v_title, m.id, m.chat_id, m.role, m.content, m.created_at, m.status,
                            m.error, m.model, m.prompt_tokens, m.completion_tokens, m.parent_id, m.on_path
                        FROM messages m WHERE m.chat_id = p_chat AND m.on_path AND m.status = 'complete'
                        ORDER BY m.id DESC LIMIT p_limit;
                    v_asked := nextval('messages_id_seq');
                    v_reply := nextval('messages_id_seq');
                    RETURN QUERY
                        WITH saved AS (
                            INSERT INTO messages AS m (id, chat_id, role, content, created_at, status, model,
                                replica_id, reserved_tokens, parent_id)
                            VALUES (v_asked, p_chat, 'user', p_content, p_now, 'complete', NULL, NULL, NULL, v_parent),
                                (v_reply, p_chat, 'assistant', '', p_now, 'streaming',
                                coalesce(p_chosen, CASE WHEN v_model = ANY (p_offered) THEN v_model END, p_default),
                                p_replica, NULL, v_asked)
                            RETURNING m.id, m.chat_id, m.role, m.content, m.created_at, m.status, m.error, m.model,
                                m.prompt_tokens, m.completion_tokens, m.parent_id, m.on_path
                        )
                        SELECT true, v_system, v_title, s.id, s.chat_id, s.role, s.content, s.created_at, s.status,
                            s.error, s.model, s.prompt_tokens, s.completion_tokens, s.parent_id, s.on_path
                        FROM saved s ORDER BY s.id;
                END $$
                """,
            ]
        ),
        Migration(
            version: 19,
            name: "a page of chats is read with one plan per connection",
            statements: [
                // Why: a page's LIMIT and OFFSET are parameters, so a generic plan is costed as if it read 10 % of
                // an average owner's chats. Once ANALYZE has seen an owner with thousands, that is far above a
                // custom plan's cost for LIMIT 20, and PostgreSQL planned the statement again at every execution:
                // in chat-bench's list scenario (an owner of 20 chats listed, beside one of 10,000), the runs where
                // autovacuum had analyzed the tables spent 0.30 ms of PostgreSQL's CPU per GET /chats instead of
                // 0.15. Both plans walk chats_by_user_listing in the page's order, so the function holds the
                // generic one (planned at its first call on a connection, then kept by PL/pgSQL like any plan of
                // a function).
                """
                CREATE FUNCTION chat_page(p_owner uuid, p_limit bigint, p_offset bigint, p_archived boolean)
                RETURNS TABLE (
                    r_total bigint, r_id uuid, r_title text, r_message_count bigint, r_created_at bigint,
                    r_updated_at bigint, r_pinned boolean, r_model text, r_system_prompt text
                ) LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
                BEGIN
                    RETURN QUERY
                        SELECT CASE WHEN p_archived THEN u.archived_count ELSE u.chat_count - u.archived_count END,
                            c.id, c.title, c.message_count, c.created_at, c.updated_at, c.pinned, c.model,
                            c.system_prompt
                        FROM users u LEFT JOIN LATERAL (
                            SELECT ch.id, ch.title, ch.message_count, ch.created_at, ch.updated_at, ch.pinned,
                                ch.model, ch.system_prompt
                            FROM chats ch WHERE ch.user_id = u.id AND ch.archived = p_archived
                            ORDER BY ch.pinned DESC, ch.updated_at DESC, ch.id DESC LIMIT p_limit OFFSET p_offset
                        ) c ON true
                        WHERE u.id = p_owner;
                END $$
                """
            ]
        ),
        Migration(
            version: 20,
            name: "a statement's messages are counted chat by chat, through the chat's key",
            statements: [
                // Why: PL/pgSQL plans a trigger's statement at its first execution on a connection and keeps the
                // plan, and these statements have no parameters: their plan was sized by the first statement's
                // transition table. On a connection whose first insert was an import of 100 messages, it was a
                // hash join over a sequential scan of every chat, kept for the two messages of each later turn:
                // in a chat-bench database, whose fixtures import a chat of 100 messages, each turn on such a
                // connection read all 11,533 chats, and the scan grows with the deployment. Each chat is now
                // updated through its primary key, one plan for any statement size; in the order of their ids, so
                // two statements lock the chats they share in the same order.
                """
                CREATE OR REPLACE FUNCTION messages_added() RETURNS trigger LANGUAGE plpgsql AS $$
                DECLARE
                    r record;
                BEGIN
                    FOR r IN
                        SELECT chat_id, count(*) AS n, max(created_at) AS newest FROM added GROUP BY chat_id
                        ORDER BY chat_id
                    LOOP
                        UPDATE chats SET message_count = message_count + r.n, messages_version = messages_version + 1,
                            updated_at = greatest(updated_at, r.newest)
                        WHERE id = r.chat_id;
                    END LOOP;
                    RETURN NULL;
                END $$
                """,
                """
                CREATE OR REPLACE FUNCTION messages_removed() RETURNS trigger LANGUAGE plpgsql AS $$
                DECLARE
                    r record;
                BEGIN
                    FOR r IN SELECT chat_id, count(*) AS n FROM removed GROUP BY chat_id ORDER BY chat_id LOOP
                        UPDATE chats SET message_count = message_count - r.n, messages_version = messages_version + 1
                        WHERE id = r.chat_id;
                    END LOOP;
                    RETURN NULL;
                END $$
                """,
            ]
        ),
        Migration(
            version: 21,
            name: "a chat's messages are found through messages_by_chat whatever ANALYZE last sampled",
            statements: [
                // Why: a statement's generic plan estimates a chat's messages from the sampled number of distinct
                // chats. Sampled while few chats had messages (a new deployment, or one with a few imported long
                // conversations), that is thousands of messages per chat, and the newest message of a chat, or its
                // newest N, looked cheaper to find by walking messages_pkey backwards through every chat's newer
                // messages than through messages_by_chat. In chat-bench (one chat of 100 messages when autovacuum
                // analyzed the table, then turns in 512 chats) a turn's history read walked thousands of rows,
                // PostgreSQL's CPU per turn was 3.8 ms instead of 1.5, until the next ANALYZE. The estimate is now
                // a share of the table's rows (a chat of 20 messages on average), which ANALYZE keeps; the lookups
                // of one chat then always go through messages_by_chat.
                "ALTER TABLE messages ALTER COLUMN chat_id SET (n_distinct = -0.05)",
                // It applies from the next ANALYZE: now, where there are messages. An empty table is left
                // unanalyzed, so that the planner keeps assuming some pages in it: plans that a connection makes
                // and keeps while the table is empty use the indexes (PostgresPlanTests).
                """
                DO $$ BEGIN
                    IF EXISTS (SELECT 1 FROM messages) THEN ANALYZE messages; END IF;
                END $$
                """,
            ]
        ),
        Migration(
            version: 22,
            name: "imports that do not hold the writer long",
            // Nothing here: PostgreSQL writes an import in one transaction beside other writers (row locks, not
            // one writer); SQLite's version writes it in slices into hidden chats.
            statements: []
        ),
        Migration(
            version: 23,
            name: "full-text search within the owner's rows: each indexed message and title holds its owner's token",
            statements: [
                // Why: a search's `chats.user_id = owner` was a filter on the index's matches. For an owner with a
                // few hundred messages and a phrase found in another user's 400,000, the planner walked
                // messages_pkey backwards through every user's messages (165 ms, 400,000 rows read, 0 found).
                // Each message now carries its owner (set from its chat when inserted: a chat never changes
                // owner) and its tsvector holds the owner's lexeme ('o' and the id's hex digits), which a search
                // ANDs into its tsquery: the GIN index intersects it with the words, and the planner's estimate
                // of the matches is the owner's share.
                "ALTER TABLE messages ADD COLUMN owner_id uuid",
                "UPDATE messages m SET owner_id = c.user_id FROM chats c WHERE c.id = m.chat_id",
                "ALTER TABLE messages ALTER COLUMN owner_id SET NOT NULL",
                """
                CREATE FUNCTION messages_owner() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    NEW.owner_id := (SELECT user_id FROM chats WHERE id = NEW.chat_id);
                    RETURN NEW;
                END $$
                """,
                """
                CREATE TRIGGER messages_owner BEFORE INSERT OR UPDATE OF chat_id ON messages
                FOR EACH ROW EXECUTE FUNCTION messages_owner()
                """,
                "ALTER TABLE messages DROP COLUMN search",
                """
                ALTER TABLE messages ADD COLUMN search tsvector GENERATED ALWAYS AS (
                    CASE WHEN status = 'streaming' THEN NULL
                    ELSE to_tsvector('simple', content)
                        || array_to_tsvector(ARRAY['o' || replace(owner_id::text, '-', '')]) END
                ) STORED
                """,
                "CREATE INDEX messages_search ON messages USING gin (search)",
                // Titles alike (their owner is the chat's user_id).
                "ALTER TABLE chats DROP COLUMN search",
                """
                ALTER TABLE chats ADD COLUMN search tsvector GENERATED ALWAYS AS (
                    to_tsvector('simple', coalesce(title, ''))
                        || array_to_tsvector(ARRAY['o' || replace(user_id::text, '-', '')])
                ) STORED
                """,
                "CREATE INDEX chats_search ON chats USING gin (search)",
                // The planner's estimate of a search's matches needs the new column's statistics.
                """
                DO $$ BEGIN
                    IF EXISTS (SELECT 1 FROM messages) THEN ANALYZE messages, chats; END IF;
                END $$
                """,
            ]
        ),
        Migration(
            version: 24,
            name: "prefix searches read one list per prefix of two or three characters",
            // Nothing here: SQLite's FTS5 gains prefix indexes. A PostgreSQL search runs on its own pooled
            // connection, so a slow prefix match does not hold up other requests.
            statements: []
        ),
        Migration(
            version: 25,
            name: "per-user API keys, stored as their SHA-256, and each key's usage per month",
            statements: [
                """
                CREATE TABLE api_keys (
                    id uuid PRIMARY KEY,
                    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                    name text NOT NULL,
                    key_hash text NOT NULL UNIQUE,
                    prefix text NOT NULL,
                    created_at bigint NOT NULL,
                    expires_at bigint,
                    last_used_at bigint,
                    models text,
                    monthly_token_budget bigint
                )
                """,
                "CREATE INDEX api_keys_by_user ON api_keys (user_id, created_at, id)",
                """
                CREATE TABLE api_key_usage (
                    key_id uuid NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
                    month integer NOT NULL,
                    requests bigint NOT NULL DEFAULT 0,
                    total_tokens bigint NOT NULL DEFAULT 0,
                    PRIMARY KEY (key_id, month)
                )
                """,
            ]
        ),
        Migration(
            version: 26,
            name: "the door's calls hold tokens against quotas and key budgets while they run",
            statements: [
                // A reservation is a running reply's (message_id) or a running call's of the door (replica_id:
                // the replica serving it, whose lease ending releases it). begin_turn and quotaStanding sum
                // them all by user, so turns and calls are admitted against the same holds.
                "ALTER TABLE reservations DROP CONSTRAINT reservations_pkey",
                "ALTER TABLE reservations ALTER COLUMN message_id DROP NOT NULL",
                "ALTER TABLE reservations ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
                "CREATE UNIQUE INDEX reservations_by_message ON reservations (message_id)",
                "ALTER TABLE reservations ADD COLUMN replica_id uuid",
                "ALTER TABLE reservations ADD COLUMN api_key_id uuid",
                """
                ALTER TABLE reservations ADD CONSTRAINT reservations_holder
                    CHECK ((message_id IS NULL) = (replica_id IS NOT NULL))
                """,
                "CREATE INDEX reservations_by_key ON reservations (api_key_id) WHERE api_key_id IS NOT NULL",
                "CREATE INDEX reservations_by_replica ON reservations (replica_id) WHERE replica_id IS NOT NULL",
            ]
        ),
    ]

    static var latestVersion: Int { all.last?.version ?? 0 }

    /// Applies every migration newer than the store's, holding the advisory lock; returns the versions before
    /// and after.
    static func apply(on connection: PostgresConnection, logger: Logger) async throws -> (from: Int, to: Int) {
        try await connection.query("SELECT pg_advisory_lock(\(Self.lockKey))", logger: logger)
        do {
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now()
                )
                """,
                logger: logger
            )
            var current = 0
            for try await version in try await connection.query(
                "SELECT coalesce(max(version), 0)::bigint FROM schema_migrations", logger: logger
            ).decode(Int64.self) {
                current = Int(version)
            }
            guard current <= Self.latestVersion else {
                throw StorageError.newerSchema(found: current, supported: Self.latestVersion)
            }
            for migration in Self.all where migration.version > current {
                try await connection.withTransaction(logger: logger) { connection in
                    for statement in migration.statements {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.query(
                        "INSERT INTO schema_migrations (version, name) VALUES (\(migration.version), \(migration.name))",
                        logger: logger
                    )
                }
            }
            try await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
            return (current, Self.latestVersion)
        } catch {
            _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
            throw error
        }
    }
}
