# Puma's configuration for our Redmine image (both flavours): `rails server` reads
# config/puma.rb. Measured by `cargo xtask bench` (section "Redmine serving", docs/bench.md).
#
# One Ruby process runs Ruby code on one core at a time (the global VM lock), so a single puma
# process leaves every other core idle under concurrent users. Cluster mode forks workers that
# each run their own threads:
#   WEB_CONCURRENCY    worker processes; default: the CPUs this container may use (its CPU limit,
#                      else the CPUs it may run on: cpus_allowed below); 0 = a single
#                      process (what the official image runs)
#   RAILS_MAX_THREADS  threads per process (default 5); each gets its own database connection

require "etc"

# The CPUs this container may use: its CPU limit when it has one (`docker run --cpus`, compose's
# deploy.resources.limits.cpus: a CFS quota, which Etc.nprocessors does not see), rounded up;
# else the CPUs it may run on. Without this, a container limited to 2 CPUs on a 64-CPU host would
# fork 64 workers, and its memory limit would kill them.
def cpus_allowed
  quota, period =
    if File.exist?("/sys/fs/cgroup/cpu.max") # cgroup v2: "max 100000" or "200000 100000"
      File.read("/sys/fs/cgroup/cpu.max").split
    else # cgroup v1
      %w[cfs_quota_us cfs_period_us].map { |f| File.read("/sys/fs/cgroup/cpu/cpu.#{f}") rescue "" }
    end
  quota = Integer(quota.to_s.strip, exception: false)
  period = Integer(period.to_s.strip, exception: false)
  limit = (quota + period - 1) / period if quota&.positive? && period&.positive?
  [Etc.nprocessors, limit].compact.min
end

workers_count = Integer(ENV.fetch("WEB_CONCURRENCY") { cpus_allowed })
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
