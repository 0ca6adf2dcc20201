# What the database needs before Redmine can serve, found out in a fraction of a second with the
# database's gem alone (booting Rails to ask would cost 5-10 s on every start). Prints:
#   migrate - some migration of Redmine or of a plugin is not applied yet;
#   setup   - Redmine's default data (trackers, statuses, roles) is not loaded: a new database.
# It reads config/database.yml, which the base image's entry point has just written from the
# environment (REDMINE_DB_*, each also as _FILE, or SQLite when none is set), so the settings
# have one reader. PostgreSQL, MySQL/MariaDB and SQLite are asked directly; another adapter
# prints both words, and the Rails steps, which are idempotent, find out themselves.
require 'yaml'

config = YAML.safe_load(File.read('config/database.yml'))
config = config.fetch(ENV.fetch('RAILS_ENV', 'production'))

# query(sql) -> the rows' first values as strings; nil when the database does not exist yet.
query =
  case config['adapter']
  when /postgresql/
    require 'pg'
    db = PG.connect(host: config['host'], port: config['port'], user: config['username'],
                    password: config['password'], dbname: config['database'], connect_timeout: 10)
    ->(sql) { db.exec(sql).values.map(&:first) }
  when 'mysql2'
    require 'mysql2'
    db = Mysql2::Client.new(host: config['host'], port: config['port']&.to_i, username: config['username'],
                            password: config['password'], database: config['database'], connect_timeout: 10)
    ->(sql) { db.query(sql, as: :array).map { |row| row.first.to_s } }
  when 'sqlite3'
    # A database file that does not exist yet is a new database (Rails creates it when migrating).
    if File.exist?(config['database'])
      require 'sqlite3'
      db = SQLite3::Database.new(config['database'], readonly: true)
      ->(sql) { db.execute(sql).map { |row| row.first.to_s } }
    end
  end
unless query
  puts 'migrate setup'
  exit
end

# Whether a table exists: asking for none of its rows fails when it does not (no transaction is
# open, so a failed statement costs nothing).
table = lambda do |name|
  query.call("SELECT 1 FROM #{name} WHERE 1 = 0")
  true
rescue StandardError
  false
end

# Rails records a migration by the number its file name starts with, as an integer ("001_setup.rb"
# is "1"); Redmine records a plugin's as "NUMBER-PLUGIN".
version = ->(file) { File.basename(file)[/\A\d+/].to_i.to_s }
wanted = Dir['db/migrate/*.rb'].map(&version)
Dir['plugins/*/db/migrate/*.rb'].each { |file| wanted << "#{version[file]}-#{file.split('/')[1]}" }
applied = table['schema_migrations'] ? query.call('SELECT version FROM schema_migrations') : []
needs = []
needs << 'migrate' unless (wanted - applied).empty?
needs << 'setup' unless table['trackers'] && !query.call('SELECT 1 FROM trackers LIMIT 1').empty?
puts needs.join(' ')
