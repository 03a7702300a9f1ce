-- 0017_room_takes_in_spool: the pieces of a take go straight into the encrypted spool.
--
-- A take's pieces are appended to one pieces file in the spool (each sealed on its own), not
-- inserted into room_chunks: the database only follows how far the take has come. Finishing a
-- take records what the browser announced and queues a worker job that checks, probes and
-- seals the file into a recording. room_chunks stays for takes begun before this version: their
-- pieces move into a pieces file when the take continues.

-- The pieces file (its spool name) and its data key wrapped by the candidate's key.
ALTER TABLE room_takes ADD COLUMN spool_name TEXT;
ALTER TABLE room_takes ADD COLUMN wrapped_data_key BLOB;
-- Set when the browser announced the last piece: what it sent, and the job assembling it.
ALTER TABLE room_takes ADD COLUMN finished_at TEXT;
ALTER TABLE room_takes ADD COLUMN expected_pieces INTEGER CHECK (expected_pieces >= 0);
ALTER TABLE room_takes ADD COLUMN expected_bytes INTEGER CHECK (expected_bytes >= 0);
ALTER TABLE room_takes ADD COLUMN job_id INTEGER;
-- Why a finished take could not become a recording (unreadable media): the candidate records
-- the answer again.
ALTER TABLE room_takes ADD COLUMN error TEXT;

CREATE INDEX room_takes_open ON room_takes(state) WHERE state = 'recording';
