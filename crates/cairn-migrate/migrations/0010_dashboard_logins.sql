-- Sign-ins for the `cairn serve` dashboard, recorded by `cairn createuser`: per user an
-- Argon2id password hash (PHC string; never the password) and whether the user may see
-- learner identities (the at-risk list). The latest version per user counts; an empty
-- hash disables the sign-in. What each user may see comes from cairn-acl's rights.
CREATE TABLE IF NOT EXISTS {{ db }}._dashboard_logins
(
    username String,
    password_hash String,
    identities UInt8,
    version UInt64
)
ENGINE = MergeTree
ORDER BY (username, version);
