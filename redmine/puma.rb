# Puma's configuration for our Redmine image (both flavours): `rails server` reads
# config/puma.rb. Measured by `cargo xtask bench` (section "Redmine serving", docs/bench.md).
#
# One Ruby process runs Ruby code on one core at a time (the global VM lock), so a single puma
# process leaves every other core idle under concurrent users. Cluster mode forks workers that
# each run their own threads:
#   WEB_CONCURRENCY    worker processes; default: the CPUs this container may use; 0 = a single
#                      process (what the official image runs)
#   RAILS_MAX_THREADS  threads per process (default 5); each gets its own database connection

require "etc"

workers_count = Integer(ENV.fetch("WEB_CONCURRENCY") { Etc.nprocessors })
threads_count = Integer(ENV.fetch("RAILS_MAX_THREADS") { 5 })
threads threads_count, threads_count

if workers_count > 0
  workers workers_count
  # `rails server` has loaded the application before it reads this file: the workers are
  # forked from it and share its memory pages until they write to them.
  preload_app!

  # One database connection per thread (Active Record's pool defaults to 5, whatever
  # RAILS_MAX_THREADS says); each worker opens its own.
  on_worker_boot do
    if defined?(ActiveRecord::Base)
      config = ActiveRecord::Base.connection_db_config.configuration_hash
      ActiveRecord::Base.establish_connection(config.merge(pool: threads_count))
    end
  end
end
