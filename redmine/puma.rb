# Puma's configuration for our Redmine image (both flavours): `rails server` reads
# config/puma.rb. Measured by `cargo xtask bench` (section "Redmine serving", docs/bench.md).
#
# One Ruby process runs Ruby code on one core at a time (the global VM lock), so a single puma
# process leaves every other core idle under concurrent users. Cluster mode forks workers that
# each run their own threads:
#   WEB_CONCURRENCY    worker processes; default: the CPUs this container may use (its CPU limit,
#                      else the CPUs it may run on: cpus_allowed below); 0 = a single
#                      process (what the official image runs)
#   RAILS_MAX_THREADS  threads per process; default 1 per worker in cluster mode, 5 for a single
#                      process
#
# One thread per worker, as many workers as CPUs: threads of one process take turns on the lock,
# so a request that waits for the database queues behind the others' Ruby code each time it comes
# back, and the slowest requests wait longest. At 8 clients on /projects, 1 thread against 5 gave
# 1.09-1.16x the requests/s and 0.71-0.92x the p99 in two full runs (docs/bench.md). The price:
# a worker busy with a slow request serves nobody else meanwhile, which is what more workers are
# for.

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
threads_count = Integer(ENV.fetch("RAILS_MAX_THREADS") { workers_count > 0 ? 1 : 5 })
threads threads_count, threads_count

# Puma before 7 (Debian's 6.6.0 in the offline flavour) serves up to 10 requests of one keep-alive
# connection in a row while the worker's other connections wait: with one thread, a tail of
# seconds (bench: 2.6x the p99). 1 takes the connections in turn. Puma 7 fixed that tail itself
# (puma/puma#3678) and gave the setting another meaning (max_keep_alive: requests before the
# connection is closed), so newer ones keep their default.
max_fast_inline 1 if Gem::Version.new(Puma::Const::VERSION) < Gem::Version.new("7")

if workers_count > 0
  workers workers_count
  # `rails server` has loaded the application before it reads this file: the workers are
  # forked from it and share its memory pages until they write to them.
  preload_app!

  # Each worker opens its own database connections: one per thread, and at least Active Record's
  # default 5, as Redmine sends its mails through ActiveJob's async adapter (`deliver_later`), in
  # threads of the same process that need connections too. Connections open when first used.
  reconnect = proc do
    if defined?(ActiveRecord::Base)
      config = ActiveRecord::Base.connection_db_config.configuration_hash
      ActiveRecord::Base.establish_connection(config.merge(pool: [threads_count, 5].max))
    end
  end
  # Puma 7 renamed the hook (the old name still works, with a warning).
  respond_to?(:before_worker_boot) ? before_worker_boot(&reconnect) : on_worker_boot(&reconnect)
end
