# What the database needs before Redmine can serve, found out in a fraction of a second with the
# pg gem alone (booting Rails to ask would cost 5-10 s on every start). Prints:
#   migrate - some migration of Redmine or of a plugin is not applied yet;
#   setup   - Redmine's default data (trackers, statuses, roles) is not loaded: a new database.
# Reads the same variables as the official image's entry point (REDMINE_DB_*, each also _FILE).
require 'pg'

def env(name, default = nil)
  file = ENV["#{name}_FILE"].to_s
  return File.read(file).chomp unless file.empty?

  value = ENV[name].to_s
  value.empty? ? default : value
end

user = env('REDMINE_DB_USERNAME', 'postgres')
db = PG.connect(host: env('REDMINE_DB_POSTGRES'), port: env('REDMINE_DB_PORT', '5432'),
                user: user, password: env('REDMINE_DB_PASSWORD'),
                dbname: env('REDMINE_DB_DATABASE', user), connect_timeout: 10)

def table?(db, name)
  db.exec_params('SELECT to_regclass($1) IS NOT NULL AS found', [name])[0]['found'] == 't'
end

# Rails records a migration by the number its file name starts with, as an integer ("001_setup.rb"
# is "1"); Redmine records a plugin's as "NUMBER-PLUGIN".
version = ->(file) { File.basename(file)[/\A\d+/].to_i.to_s }
wanted = Dir['db/migrate/*.rb'].map(&version)
Dir['plugins/*/db/migrate/*.rb'].each { |file| wanted << "#{version[file]}-#{file.split('/')[1]}" }
applied = table?(db, 'schema_migrations') ? db.exec('SELECT version FROM schema_migrations').values.flatten : []
needs = []
needs << 'migrate' unless (wanted - applied).empty?
needs << 'setup' unless table?(db, 'trackers') && db.exec('SELECT 1 FROM trackers LIMIT 1').ntuples.positive?
puts needs.join(' ')
