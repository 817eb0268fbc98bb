-- The LMS's own state, read live from its MySQL database through MySQL-engine tables
-- (Cairn's names). Only the columns analytics needs: never auth_user.password.
-- Credentials come from OPENEDX_MYSQL_*; a read-only MySQL user is enough.
CREATE TABLE IF NOT EXISTS {{ db }}.openedx_users
(
    id Int32,
    username String,
    email String,
    first_name String,
    last_name String,
    is_staff UInt8,
    is_superuser UInt8,
    is_active UInt8,
    date_joined DateTime,
    last_login Nullable(DateTime)
)
ENGINE = MySQL({{ mysql.address | sqlstr }}, {{ mysql.database | sqlstr }}, 'auth_user', {{ mysql.username | sqlstr }}, {{ mysql.password | sqlstr }});

CREATE TABLE IF NOT EXISTS {{ db }}.openedx_user_profiles
(
    id Int32,
    user_id Int32,
    name String,
    year_of_birth Nullable(Int32),
    gender Nullable(String),
    level_of_education Nullable(String),
    city Nullable(String),
    state Nullable(String),
    country Nullable(String)
)
ENGINE = MySQL({{ mysql.address | sqlstr }}, {{ mysql.database | sqlstr }}, 'auth_userprofile', {{ mysql.username | sqlstr }}, {{ mysql.password | sqlstr }});

CREATE TABLE IF NOT EXISTS {{ db }}.openedx_course_enrollments
(
    id Int32,
    user_id Int32,
    course_id String,
    created Nullable(DateTime),
    is_active UInt8,
    mode String
)
ENGINE = MySQL({{ mysql.address | sqlstr }}, {{ mysql.database | sqlstr }}, 'student_courseenrollment', {{ mysql.username | sqlstr }}, {{ mysql.password | sqlstr }});

CREATE TABLE IF NOT EXISTS {{ db }}.course_grades
(
    id UInt64,
    user_id Int32,
    course_id String,
    percent_grade Float64,
    letter_grade String,
    passed_timestamp Nullable(DateTime),
    created DateTime,
    modified DateTime
)
ENGINE = MySQL({{ mysql.address | sqlstr }}, {{ mysql.database | sqlstr }}, 'grades_persistentcoursegrade', {{ mysql.username | sqlstr }}, {{ mysql.password | sqlstr }});

CREATE TABLE IF NOT EXISTS {{ db }}.openedx_block_completion
(
    id Int64,
    user_id Int32,
    course_key String,
    block_key String,
    block_type String,
    completion Float64,
    created DateTime,
    modified DateTime
)
ENGINE = MySQL({{ mysql.address | sqlstr }}, {{ mysql.database | sqlstr }}, 'completion_blockcompletion', {{ mysql.username | sqlstr }}, {{ mysql.password | sqlstr }});

CREATE TABLE IF NOT EXISTS {{ db }}.openedx_course_overviews
(
    id String,
    display_name Nullable(String),
    org String,
    start Nullable(DateTime),
    end Nullable(DateTime),
    self_paced UInt8,
    lowest_passing_grade Nullable(Float64)
)
ENGINE = MySQL({{ mysql.address | sqlstr }}, {{ mysql.database | sqlstr }}, 'course_overviews_courseoverview', {{ mysql.username | sqlstr }}, {{ mysql.password | sqlstr }});
