//! Links in the OpenAPI document from the answers that name a job or a
//! processor to the operations that take it: a client, or a fuzzer's
//! stateful phase, follows them with real ids instead of guessing.

use utoipa::openapi::link::Link;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::{OpenApi, RefOr};

/// One operation of a path.
type Method = fn(&mut PathItem) -> Option<&mut Operation>;

fn get(item: &mut PathItem) -> Option<&mut Operation> {
    item.get.as_mut()
}

fn post(item: &mut PathItem) -> Option<&mut Operation> {
    item.post.as_mut()
}

/// The operations on one job, each taking its `id`.
const ON_A_JOB: [&str; 6] = [
    "get_job",
    "cancel_job",
    "job_events",
    "job_logs",
    "job_result",
    "retry_job",
];

/// The answers naming a job: (path, method, status, where its id is). (A
/// page of jobs may be empty: a link into it would name no job.)
const NAMING_A_JOB: [(&str, Method, &str, &str); 2] = [
    (
        "/v1/processors/{name}/jobs",
        post,
        "202",
        "$response.body#/id",
    ),
    ("/v1/jobs/{id}/retry", post, "202", "$response.body#/id"),
];

/// States the links from the answers naming a job to the operations on it,
/// and from a page of processors to a submission to the first of them.
pub fn state(doc: &mut OpenApi) {
    for (path, method, status, id) in NAMING_A_JOB {
        for target in ON_A_JOB {
            let link = Link::builder()
                .operation_id(target)
                .parameter("id", id)
                .build();
            add(doc, (path, method, status), target, link);
        }
    }
    let submit = Link::builder()
        .operation_id("submit_job")
        .parameter("name", "$response.body#/processors/0/name")
        .build();
    add(doc, ("/v1/processors", get, "200"), "submit_job", submit);
}

/// Adds `link`, named `name`, to the answer `status` of `method path`.
fn add(doc: &mut OpenApi, (path, method, status): (&str, Method, &str), name: &str, link: Link) {
    let operation = doc.paths.paths.get_mut(path).and_then(method);
    if let Some(RefOr::T(response)) = operation.and_then(|o| o.responses.responses.get_mut(status))
    {
        response.links.insert(name.into(), RefOr::T(link));
    }
}
