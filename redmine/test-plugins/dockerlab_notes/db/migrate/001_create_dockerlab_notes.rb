# The plugin's one migration: a table the checks look for in PostgreSQL.
class CreateDockerlabNotes < ActiveRecord::Migration[7.2]
  def change
    create_table :dockerlab_notes do |t|
      t.string :text, null: false
      t.timestamps
    end
  end
end
