DROP TABLE import_profiles;
DROP TABLE import_files;
DROP TABLE import_errors;
DROP TABLE import_rows;
DROP TABLE imports;
