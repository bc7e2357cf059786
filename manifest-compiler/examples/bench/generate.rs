//! The generated benchmark programs: `n` entities, each with properties,
//! relationships, a computed property, a constraint, a transition, a policy,
//! three commands (guards, mutates, emits) and its events and store, 40 lines
//! an entity (500 entities: 20,000 lines).

use std::fmt::Write;

/// Lines each generated entity takes, with its store and events.
pub const LINES_PER_ENTITY: usize = 40;

/// A program of `n` entities (`n >= 1`); every line is part of an entity block.
pub fn program(n: usize) -> String {
    let mut out = String::with_capacity(n * 1600);
    for i in 0..n {
        entity(&mut out, i, n);
    }
    out
}

fn entity(out: &mut String, i: usize, n: usize) {
    let name = format!("Item{i}");
    let parent = format!("Item{}", (i + n - 1) % n);
    let child = format!("Item{}", (i + 1) % n);
    // 40 lines, counted by the test below.
    let _ = write!(
        out,
        r#"entity {name} {{
  property required id: string
  property required title: string
  property status: string = "open"
  property count: number = 0
  property limit: number = 10
  property parentId: string = ""
  property active: boolean = true
  property note: string = ""
  belongsTo parent: {parent}
  hasMany children: {child}
  computed remaining: number = self.limit - self.count
  constraint countInRange: self.count >= 0 and self.count <= self.limit "Count must stay within the limit"
  transition status from "open" to ["closed"]
  policy {name}Access execute: user.role == "admin" or user.id == self.id "Not allowed"

  command create(title: string, limit: number = 10) {{
    guard title != ""
    emit {name}Created
  }}

  command increment(by: number) {{
    guard self.status == "open" and self.count + by <= self.limit
    mutate count = self.count + by
    emit {name}Incremented
  }}

  command close() {{
    guard self.status == "open"
    mutate status = "closed"
    mutate active = false
    emit {name}Closed
  }}
}}

store {name} in memory
event {name}Created: "item{i}.created" {{ id: string }}
event {name}Incremented: "item{i}.incremented" {{ id: string }}
event {name}Closed: "item{i}.closed" {{ id: string }}

"#
    );
}
