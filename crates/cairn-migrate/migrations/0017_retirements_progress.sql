-- Learner retirement in progress: `cairn retire` records each learner (with the hashes of
-- their names, `done` = 0) before it changes anything, and again (`done` = 1) once every
-- change is applied. The ingester guards a learner's late events from the first row on;
-- only a `done` row makes the retirement complete (a run that stopped in between is
-- finished by the next, which still knows the names it had found).
ALTER TABLE {{ db }}._retirements ADD COLUMN done UInt8 DEFAULT 1;
