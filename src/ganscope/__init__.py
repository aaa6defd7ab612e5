"""ganscope: open up image generators and see what each unit does."""
