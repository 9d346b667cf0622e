import Foundation
import HearthFFI
#if canImport(Security)
import Security
#endif

/// A store key held in memory: a key your own code unwrapped, or a test key.
public final class RawStoreKey: StoreKeySource, @unchecked Sendable {
    private let key: Data

    public init(_ key: Data) {
        precondition(key.count == 32, "a store key is 32 bytes, got \(key.count)")
        self.key = key
    }

    public static func random() -> RawStoreKey {
        var bytes = [UInt8](repeating: 0, count: 32)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
        return RawStoreKey(Data(bytes))
    }

    public func storeKey() throws -> Data { key }
}

#if canImport(Security)
/// The profile's store key in the iOS Keychain: 32 random bytes made on first use, readable
/// after the first unlock (so background syncs work while the phone is locked), never synced
/// to iCloud or restored to another device.
public final class KeychainStoreKey: StoreKeySource, @unchecked Sendable {
    private let service: String
    private let account: String

    public init(service: String = "org.hearth.store-key", account: String) {
        self.service = service
        self.account = account
    }

    public func storeKey() throws -> Data {
        if let existing = try read() { return existing }
        var bytes = [UInt8](repeating: 0, count: 32)
        guard SecRandomCopyBytes(kSecRandomDefault, bytes.count, &bytes) == errSecSuccess else {
            throw HearthError.KeyUnavailable(detail: "the system could not make random bytes")
        }
        let key = Data(bytes)
        var add = query()
        add[kSecValueData as String] = key
        add[kSecAttrAccessible as String] = kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly
        let status = SecItemAdd(add as CFDictionary, nil)
        if status == errSecDuplicateItem, let raced = try read() { return raced }
        guard status == errSecSuccess else {
            throw HearthError.KeyUnavailable(detail: "the Keychain refused to store the key (OSStatus \(status))")
        }
        return key
    }

    private func read() throws -> Data? {
        var q = query()
        q[kSecReturnData as String] = true
        q[kSecMatchLimit as String] = kSecMatchLimitOne
        var item: CFTypeRef?
        let status = SecItemCopyMatching(q as CFDictionary, &item)
        switch status {
        case errSecSuccess:
            guard let data = item as? Data, data.count == 32 else {
                throw HearthError.KeyUnavailable(detail: "the Keychain item is not a 32-byte key")
            }
            return data
        case errSecItemNotFound:
            return nil
        case errSecInteractionNotAllowed:
            throw HearthError.KeyUnavailable(detail: "the device has not been unlocked since it started")
        default:
            throw HearthError.KeyUnavailable(detail: "the Keychain could not be read (OSStatus \(status))")
        }
    }

    private func query() -> [String: Any] {
        [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: account,
        ]
    }
}
#endif
