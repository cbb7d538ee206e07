"""The sync jobs, one module per Lambda function; handlers only parse events and call these."""
