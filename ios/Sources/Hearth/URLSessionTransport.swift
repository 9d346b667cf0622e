import Foundation
import HearthFFI
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The relay transport on URLSession (the app's proxies, pinning and metering apply). The core
/// calls it on a background thread and may block it until the answer or `timeoutMs`.
public final class URLSessionTransport: RelayTransport, @unchecked Sendable {
    private let session: URLSession

    public init(session: URLSession = .shared) {
        self.session = session
    }

    public func post(request: HttpRequest) throws -> HttpResponse {
        guard let url = URL(string: request.url) else {
            throw HearthError.InvalidInput(field: "relay", detail: "not a URL: \(request.url)")
        }
        let seconds = Double(request.timeoutMs) / 1000
        var req = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: seconds)
        req.httpMethod = "POST"
        for (name, value) in request.headers {
            req.setValue(value, forHTTPHeaderField: name)
        }
        req.httpBody = request.body

        let done = DispatchSemaphore(value: 0)
        let box = ResultBox()
        let task = session.dataTask(with: req) { data, response, error in
            if let error = error {
                box.result = .failure(error)
            } else if let http = response as? HTTPURLResponse {
                box.result = .success((UInt16(clamping: http.statusCode), data ?? Data()))
            } else {
                box.result = .failure(URLError(.badServerResponse))
            }
            done.signal()
        }
        task.resume()
        // The whole exchange is bounded, so background syncs keep their deadline.
        if done.wait(timeout: .now() + .milliseconds(Int(request.timeoutMs))) == .timedOut {
            task.cancel()
            throw HearthError.RelayUnreachable(detail: "\(request.url): no answer within \(request.timeoutMs) ms")
        }
        switch box.result {
        case .some(.success(let answer)):
            return HttpResponse(status: answer.0, body: answer.1)
        case .some(.failure(let error)):
            throw HearthError.RelayUnreachable(detail: "\(request.url): \(error.localizedDescription)")
        case .none:
            throw HearthError.RelayUnreachable(detail: "\(request.url): no answer")
        }
    }
}

private final class ResultBox: @unchecked Sendable {
    var result: Result<(UInt16, Data), Error>?
}
