from rest_framework import serializers

from shared.accounts.models import Agency, ApiToken, User


class AgencySerializer(serializers.ModelSerializer):
    class Meta:
        model = Agency
        fields = [
            "code",
            "name",
            "kind",
            "level",
            "area_code",
            "is_issuer",
            "is_consumer",
            "active",
            "created_at",
        ]
        read_only_fields = ["created_at"]


class AgencyCreateSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=18, min_length=18)
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=Agency.Kind.choices, default=Agency.Kind.DEPARTMENT)
    level = serializers.ChoiceField(choices=Agency.Level.choices, default=Agency.Level.CITY)
    area_code = serializers.RegexField(r"^\d{6}$")
    is_issuer = serializers.BooleanField(default=False)
    is_consumer = serializers.BooleanField(default=False)


class AgencyUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    kind = serializers.ChoiceField(choices=Agency.Kind.choices, required=False)
    level = serializers.ChoiceField(choices=Agency.Level.choices, required=False)
    area_code = serializers.RegexField(r"^\d{6}$", required=False)
    is_issuer = serializers.BooleanField(required=False)
    is_consumer = serializers.BooleanField(required=False)
    active = serializers.BooleanField(required=False)


class UserSerializer(serializers.ModelSerializer):
    # A library admin belongs to no agency: null, as the schema says.
    agency_code = serializers.CharField(
        source="agency.code", default=None, read_only=True, allow_null=True
    )

    class Meta:
        model = User
        fields = ["id", "username", "display_name", "role", "agency_code", "is_active"]


class UserCreateSerializer(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]{3,150}$")
    display_name = serializers.CharField(max_length=100, required=False, default="")
    role = serializers.ChoiceField(
        choices=[User.Role.STAFF, User.Role.AGENCY_ADMIN], default=User.Role.STAFF
    )
    password = serializers.CharField(min_length=10, max_length=128, required=False, write_only=True)


class TokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "expires_at", "revoked_at", "last_used_at"]


class TokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    username = serializers.CharField(
        max_length=150, required=False, help_text="为本单位其他人员签发时填写（单位管理员）"
    )
    expires_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="到期时间；不填则为签发后 API_TOKEN_DEFAULT_DAYS 天（默认 90 天），最长 366 天",
    )


class TokenCreatedSerializer(TokenSerializer):
    token = serializers.CharField(help_text="令牌明文，仅此一次返回")

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "token"]
