-- 0020_link_opening: admission control. A link issued while the analysis backlog is over the
-- configured capacity opens later (the interview is scheduled, not refused at its end);
-- NULL opens at once, as every link issued before.
ALTER TABLE candidate_links ADD COLUMN opens_at TEXT;
