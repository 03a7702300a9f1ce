-- 0016_web_sessions: sign-in sessions held on the server, so that signing out, a password
-- change, deactivation or an administrator's "sign out everywhere" ends them at once (a
-- copied cookie alone no longer keeps a session alive). Only the SHA-256 of the session's
-- secret is kept: a copy of the database holds no usable session.
CREATE TABLE web_sessions (
    token_hash      TEXT PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users(id),
    started_at      TEXT NOT NULL,
    ended_at        TEXT
);
CREATE INDEX web_sessions_user ON web_sessions(user_id);
CREATE INDEX web_sessions_started ON web_sessions(started_at);
