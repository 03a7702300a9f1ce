-- 0022_report_stamps_index: when each interview's reports were drafted, read from an index.
-- `created_at` is stored after the sealed `content`, the largest value in the store: reading it
-- from the table walks every overflow page of the content (each one decrypted), and the
-- dashboard asks it of every analysed interview it may show. This index answers
-- `SELECT interview_id, created_at FROM reports WHERE interview_id IN (...)` on its own.
-- `reports_interview` stays: it lists an interview's reports in id order without a sort.
CREATE INDEX reports_interview_created ON reports(interview_id, created_at);
