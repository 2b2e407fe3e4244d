//! The shapes of the API's parameters and body fields (names, versions,
//! ids, roles, dates, callback URLs), stated in the OpenAPI document from
//! the domain's own rules: a client generator or a fuzzer sees what the API
//! accepts, not "any string".

use agensium_domain::{
    KeyId, MAX_CALLBACK_URL, MAX_KEY_NAME, MAX_SLUG, MAX_VERSION, Role, SLUG_PATTERN,
    VERSION_PATTERN,
};
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::schema::{KnownFormat, Object, Schema, SchemaFormat};
use utoipa::openapi::{Components, OpenApi, RefOr};

/// States the shape of every parameter and body field the domain has a
/// rule for.
pub fn state(doc: &mut OpenApi) {
    for (path, item) in &mut doc.paths.paths {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            for parameter in operation.parameters.iter_mut().flatten() {
                if let RefOr::T(p) = parameter {
                    parameter_shape(path, p);
                }
            }
        }
    }
    if let Some(components) = &mut doc.components {
        body_shapes(components);
    }
}

/// `{name}`, `{team}` and the `team`/`processor` filters are slugs,
/// `version` semver, `{id}` a job's UUID or, under `/keys/`, a key's hex id;
/// `from`/`to` are dates, `callback_url` a URL.
fn parameter_shape(path: &str, p: &mut Parameter) {
    let (name, place) = (p.name.clone(), p.parameter_in.clone());
    let Some(RefOr::T(Schema::Object(o))) = p.schema.as_mut() else {
        return;
    };
    match (place, name.as_str()) {
        (ParameterIn::Path, "name" | "team") | (ParameterIn::Query, "team" | "processor") => {
            string(o, SLUG_PATTERN, Some(MAX_SLUG));
        }
        (ParameterIn::Path | ParameterIn::Query, "version") => {
            string(o, VERSION_PATTERN, Some(MAX_VERSION));
        }
        (ParameterIn::Path, "id") if path.contains("/keys/") => string(o, KeyId::PATTERN, None),
        (ParameterIn::Path, "id") => o.format = Some(SchemaFormat::Custom("uuid".into())),
        (ParameterIn::Query, "from" | "to") => {
            o.format = Some(SchemaFormat::KnownFormat(KnownFormat::Date));
        }
        (ParameterIn::Query, "callback_url") => {
            o.format = Some(SchemaFormat::Custom("uri".into()));
            o.max_length = Some(MAX_CALLBACK_URL);
        }
        _ => {}
    }
}

/// A new team's name is a slug; a new key's role one of the roles, its
/// name bounded.
fn body_shapes(components: &mut Components) {
    if let Some(o) = field(components, "NewTeam", "name") {
        string(o, SLUG_PATTERN, Some(MAX_SLUG));
    }
    if let Some(o) = field(components, "NewKey", "role") {
        o.enum_values = Some(Role::ALL.iter().map(|r| r.as_str().into()).collect());
    }
    if let Some(o) = field(components, "NewKey", "name") {
        o.max_length = Some(MAX_KEY_NAME);
    }
}

/// The schema of `property` of the component schema `schema`, when it is
/// stated inline.
fn field<'a>(
    components: &'a mut Components,
    schema: &str,
    property: &str,
) -> Option<&'a mut Object> {
    let Some(RefOr::T(Schema::Object(o))) = components.schemas.get_mut(schema) else {
        return None;
    };
    match o.properties.get_mut(property) {
        Some(RefOr::T(Schema::Object(p))) => Some(p),
        _ => None,
    }
}

/// A string of `pattern`, of at most `max` bytes when stated.
fn string(o: &mut Object, pattern: &str, max: Option<usize>) {
    o.pattern = Some(pattern.into());
    o.min_length = Some(1);
    o.max_length = max;
}
